// A request to the service that no client waits for: a cache's background refresh
// (stale-while-revalidate), sent after the client was served. It goes through the service's
// balancer, health, retries, breaker and concurrency limit like any upstream call; its response
// reaches the route's upstreamResponse phase only (a tap stores it), never a client.
import type { CompiledRoute } from './plan.js';
import type { RequestContext } from '../policies/types.js';
import type { Logger } from '../observability/logger.js';
import type { Answer } from './respond.js';
import type { CallOwner, UpstreamRequest } from './call-owner.js';
import { callRoute, UpstreamCall } from './upstream-call.js';
import { upstreamFields } from './forwarding.js';
import { tapTrailers, upstreamResponsePhase, type ResponseTaps } from './upstream-response.js';
import { ERRORS } from '../errors.js';

export class BackgroundCall implements CallOwner {
  readonly req = { method: 'GET', readableEnded: true };
  readonly trace = undefined;
  readonly tracer = undefined;
  readonly observed = false;
  private readonly call: UpstreamCall;
  private taps: ResponseTaps | undefined;
  private ended = false;

  constructor(
    private readonly route: CompiledRoute,
    private readonly ctx: RequestContext,
    private readonly log: Logger,
    /** Builds the request (headers, upstreamRequest policies) once admitted. */
    private readonly build: () => UpstreamRequest,
  ) {
    this.call = new UpstreamCall(this, callRoute(route), log);
  }

  get requestId(): string {
    return this.ctx.requestId;
  }

  start(): void {
    this.step(() => this.call.admit());
  }

  context(): RequestContext {
    return this.ctx;
  }

  step(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, requestId: this.ctx.requestId, route: this.route.name }, 'background request failed');
      this.taps?.abort();
      this.end();
    }
  }

  headersSent(): boolean {
    return false;
  }

  admitted(): void {
    this.call.send(this.build());
  }

  /** Nothing to answer: a refusal ends it. */
  respond(): void {
    this.end();
  }

  upstreamFailed(answer: Answer): void {
    // Failed after a head (the body broke off: with no client, that is not `headersSent`): its taps
    // are told the body will not end.
    this.taps?.abort();
    this.taps = undefined;
    if (answer.kind === 'error') {
      // The phase hears of it (a cache lets go of the key); whatever it would serve goes nowhere.
      const info = { status: answer.status ?? ERRORS[answer.code].status, headers: [], failed: answer.code };
      upstreamResponsePhase(this.route.upstreamResponse, this.ctx, info, this.log).taps?.abort();
    }
    this.end();
  }

  upstreamHead(status: number, rawHeaders: Buffer[] | string[]): boolean {
    this.taps?.abort(); // a retry's head: the last attempt's body will not end
    const outcome = upstreamResponsePhase(this.route.upstreamResponse, this.ctx, { status, headers: upstreamFields(rawHeaders) }, this.log);
    this.taps = outcome.taps;
    return true; // read to its end, for the taps (and so that the connection stays usable)
  }

  upstreamData(chunk: Buffer): boolean {
    this.taps?.data(chunk);
    return true;
  }

  upstreamEnd(trailers?: readonly (Buffer | string)[] | null): void {
    this.taps?.end(tapTrailers(trailers));
    this.end();
  }

  upstreamBroke(): void {
    this.taps?.abort();
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end(false);
  }
}
