// The upstreamResponse phase (decision 0007): what policies do with the service's response head
// before the response phase — watch its body as it streams (taps), or answer with another response
// in its place (a cache's stored one after a 304, a stale one for a 5xx or an unreachable service).
import type { BodyTap, HeaderList, Policy, RequestContext, ServedResponse, UpstreamResponseInfo } from '../policies/types.js';
import type { Logger } from '../observability/logger.js';

/** What the phase decided for one response. */
export interface UpstreamOutcome {
  taps: ResponseTaps | undefined;
  /** Served in the response's place: the service's body is read and dropped. */
  serve: ServedResponse | undefined;
}

/** Runs the phase; a policy's throw is the caller's to answer (as one in the response phase). */
export function upstreamResponsePhase(
  policies: readonly Policy[],
  ctx: RequestContext,
  info: UpstreamResponseInfo,
  log: Logger,
): UpstreamOutcome {
  let taps: BodyTap[] | undefined;
  for (const p of policies) {
    const action = p.upstreamResponse!(ctx, info);
    if (action === undefined) continue;
    if ('serve' in action) {
      // A replacement ends the phase: the taps asked for so far will never see a body.
      if (taps !== undefined) for (const t of taps) t.abort();
      return { taps: undefined, serve: action.serve };
    }
    (taps ??= []).push(action.tap);
  }
  return { taps: taps === undefined ? undefined : new ResponseTaps(taps, ctx.requestId, log), serve: undefined };
}

/**
 * The taps of one response, fed as its body streams. A tap that throws is dropped (and logged): it
 * watches, so its fault must not break the response the client is getting.
 */
export class ResponseTaps {
  private done = false;

  constructor(
    private readonly taps: BodyTap[],
    private readonly requestId: string,
    private readonly log: Logger,
  ) {}

  data(chunk: Buffer): void {
    for (let i = 0; i < this.taps.length; i++) {
      try {
        this.taps[i]!.data(chunk);
      } catch (err) {
        this.drop(i--, err);
      }
    }
  }

  end(trailers: HeaderList | undefined): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.taps) this.call(() => t.end(trailers));
  }

  /** The body will not end (the client went away, the service broke off); nothing after end. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.taps) this.call(() => t.abort());
  }

  private drop(i: number, err: unknown): void {
    const [tap] = this.taps.splice(i, 1);
    this.log.error({ err, requestId: this.requestId }, 'response tap failed');
    this.call(() => tap!.abort());
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, requestId: this.requestId }, 'response tap failed');
    }
  }
}

/** Trailers as a tap gets them: [name, value, …] strings, undefined when none. */
export function tapTrailers(trailers: readonly (Buffer | string)[] | null | undefined): HeaderList | undefined {
  if (trailers == null || trailers.length === 0) return undefined;
  return trailers.map((t) => t.toString('latin1'));
}
