// The response side of an exchange (exchange.ts is the request side; both are one lifecycle): the
// service's response head through the upstreamResponse phase (taps, or another response in its
// place), the response policies and the client's head; the body streamed (or held and rewritten by
// responseBody policies); the service's failures, which a policy may answer with a response it
// has; and a policy's own whole response (`serve`), which takes the same way as the service's.
import type { ErrorCode } from '../errors.js';
import { ERRORS } from '../errors.js';
import type { HeaderList, Policy, ResponseInfo, ResponseRewrite, ResponseTransform, ServedResponse } from '../policies/types.js';
import { upstreamFields, withGatewayFields } from './forwarding.js';
import { removeHeader } from './header-list.js';
import { ExchangeState, faultCode } from './exchange-state.js';
import { hasBody } from './request-body.js';
import { trailerPairs } from './trailers.js';
import { HeldResponse, responseBodyFor, rewritesFor } from './body-phases.js';
import { TransformedResponse } from './response-transform.js';
import { tapTrailers, upstreamResponsePhase } from './upstream-response.js';
import type { Answer } from './respond.js';

export abstract class ExchangeResponse extends ExchangeState {
  /**
   * The service's response head: the upstreamResponse phase (taps; or another response in its
   * place, its body then dropped), then on to the client.
   */
  upstreamHead(upstreamStatus: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean {
    const fields = upstreamFields(rawHeaders);
    const route = this.route!;
    if (route.upstreamResponse.length > 0) {
      try {
        const outcome = upstreamResponsePhase(
          route.upstreamResponse,
          this.context(),
          { status: upstreamStatus, headers: fields },
          this.plane.log,
        );
        this.taps = outcome.taps;
        if (outcome.serve !== undefined) {
          this.replacement = outcome.serve;
          this.resume = resume;
          return true; // read to its end (the connection stays usable), then served: upstreamEnd
        }
      } catch (err) {
        return this.headFailed(err);
      }
    }
    return this.head(upstreamStatus, withGatewayFields(fields, this.requestId), resume);
  }

  /**
   * The service could not answer (no healthy target, connection or timeout failures, circuit open,
   * overload): the upstreamResponse phase may serve a response in its place (a stale one).
   */
  upstreamFailed(answer: Answer): void {
    const route = this.route!;
    if (answer.kind === 'error' && route.upstreamResponse.length > 0) {
      const info = { status: answer.status ?? ERRORS[answer.code].status, headers: [], failed: answer.code };
      try {
        const outcome = upstreamResponsePhase(route.upstreamResponse, this.context(), info, this.plane.log);
        outcome.taps?.abort();
        if (outcome.serve !== undefined) return this.serve(outcome.serve);
      } catch (err) {
        return this.crashed(err);
      }
    }
    this.respond(answer);
  }

  /** A response a policy has, in the service's place: the response phases run on it, then it goes to the client. */
  protected serve(s: ServedResponse): void {
    this.replacement = undefined;
    this.taps = undefined;
    const res = this.res;
    // Answered before a body was read (a hit for a GET with a body): as respond() does.
    if (this.scan !== undefined && !this.req.complete && hasBody(this.scan)) res.shouldKeepAlive = false;
    const fields = upstreamFields(s.headers);
    // The body is whole: its length frames it, or chunks when trailers follow. Whatever
    // Content-Length the response carries goes either way: one that is not the body's (a plugin's,
    // or a stored one beside trailers) would cut the body short and leave the rest on the
    // connection to be read as the next response. 204 and 304 have none to frame.
    if (s.status !== 204 && s.status !== 304) {
      removeHeader(fields, 'content-length');
      if (s.trailers === undefined || s.trailers.length === 0) fields.push('content-length', String(s.body.length));
    }
    if (!this.head(s.status, withGatewayFields(fields, this.requestId), noop)) return;
    if (s.body.length > 0) this.upstreamData(s.body);
    this.upstreamEnd(s.trailers);
  }

  /** The response head: server header, response policies, then it goes to the client. */
  private head(upstreamStatus: number, headers: HeaderList, resume: () => void): boolean {
    // A retried response (a try's head came, then its body failed before anything went out)
    // starts over: the try's transform is told its body will not end, and neither it nor a held
    // body may take this response's chunks.
    this.transform?.abort();
    this.transform = undefined;
    this.held = undefined;
    const serverHeader = this.plane.limits.serverHeader;
    if (serverHeader !== undefined) {
      removeHeader(headers, 'server');
      headers.push('server', serverHeader);
    }
    const route = this.route!;
    const res = this.res;
    try {
      let status = upstreamStatus;
      if (route.response.length) {
        const info = { status, headers };
        for (const p of route.response) p.response!(this.context(), info);
        status = info.status;
      }
      this.status = status;
      this.grpc?.readStatus(headers); // a trailers-only gRPC response has its grpc-status here
      if (this.plane.draining) res.shouldKeepAlive = false;
      if (route.responseBody.length > 0 && this.holdsBody(status, headers)) {
        this.resume = resume;
        return true; // the head waits for the body (body-phases.ts)
      }
      this.writeHead(status, headers);
    } catch (err) {
      return this.headFailed(err);
    }
    this.resume = resume;
    return true;
  }

  /**
   * A response policy (or an invalid header it set) failed: the gateway's fault, not the target's.
   * Stop the upstream call and answer 500.
   */
  private headFailed(err: unknown): false {
    this.plane.log.error({ err, requestId: this.requestId, route: this.route!.name }, 'response phase failed');
    this.taps?.abort();
    this.taps = undefined;
    this.call?.cancel(err as Error);
    if (!this.res.headersSent) this.respond({ kind: 'error', code: faultCode(err) });
    return false;
  }

  upstreamData(chunk: Buffer): boolean {
    if (this.taps !== undefined) this.taps.data(chunk);
    if (this.replacement !== undefined) return true; // dropped: another response goes out at its end
    if (this.transform !== undefined) return this.transform.data(chunk);
    return this.toClient(chunk);
  }

  /** A chunk on its way to the client: held for the rewrites when they want the body, else written. */
  private toClient(chunk: Buffer): boolean {
    const held = this.held;
    return held === undefined || held.released ? this.write(chunk) : held.data(chunk);
  }

  /** A chunk of the response body to the client (HTTP/2 counts it: http2/exchange.ts). */
  protected write(chunk: Buffer): boolean {
    const res = this.res;
    if (res.write(chunk)) return true;
    // Backpressure: undici pauses until the client has taken what is queued. Most responses
    // never get here, so the listener is added only then (once).
    if (!this.drainHooked) {
      this.drainHooked = true;
      res.on('drain', () => this.resume!());
    }
    return false;
  }

  /** The response head to the client (HTTP/2 leaves out what its framing forbids: http2/exchange.ts). */
  protected writeHead(status: number, headers: HeaderList): void {
    this.res.writeHead(status, headers);
  }

  upstreamEnd(trailers?: readonly (Buffer | string)[] | null): void {
    this.grpc?.readStatus(trailers);
    if (this.taps !== undefined) this.taps.end(tapTrailers(trailers));
    if (this.replacement !== undefined) return this.serve(this.replacement);
    if (this.transform !== undefined) return this.transform.end(tapTrailers(trailers)); // its output ends with toClientEnd
    this.toClientEnd(trailers);
  }

  private toClientEnd(trailers: readonly (Buffer | string)[] | null | undefined): void {
    if (this.held !== undefined && !this.held.released) return this.held.end(); // rewritten, then endResponse
    this.endResponse(trailers);
  }

  /** The response ends (HTTP/2 ends its stream: http2/exchange.ts). */
  protected endResponse(trailers: readonly (Buffer | string)[] | null | undefined): void {
    if (!this.req.complete) {
      // The upstream answered before the client's body was all here: undici drops the upstream
      // connection and the rest of the body with it, so this client connection is stuck
      // mid-request and can never carry another one. Close it once the response is out.
      const socket = this.req.socket;
      this.res.once('finish', () => socket.destroySoon());
    }
    // Trailers reach a client that said it takes them (TE: trailers), in a chunked body.
    if (trailers != null && trailers.length > 0 && this.scan!.trailers) this.res.addTrailers(trailerPairs(trailers));
    this.res.end();
  }

  /**
   * The responseBody phase: whether a policy wants this response whole (it is held: body-phases.ts)
   * or translates it as it streams (response-transform.ts; the head then waits for its output).
   */
  private holdsBody(status: number, headers: HeaderList): boolean {
    const info = { status, headers };
    const handling = responseBodyFor(this.route!.responseBody, this.context(), info);
    if (handling === undefined) return false;
    if ('transform' in handling) {
      this.transformBody(info, handling.transform, handling.by);
      return true;
    }
    this.holdFor(info, handling.rewrites);
    return true;
  }

  /** A stream transform's output goes to the client, or to the rewrites that want it whole (asked with its head). */
  private transformBody(info: ResponseInfo, transform: ResponseTransform, by: Policy): void {
    this.transform = new TransformedResponse(info, transform, {
      head: (st, h) => {
        const out = { status: st, headers: h };
        const rewrites = rewritesFor(this.route!.responseBody, this.context(), out, by);
        if (rewrites !== undefined) return this.holdFor(out, rewrites);
        this.status = st;
        this.writeHead(st, h);
      },
      write: (c) => this.toClient(c),
      end: () => this.toClientEnd(null),
      refuse: (answer) => {
        this.call?.cancel(new Error('response transform refused the body'));
        this.respond(answer);
      },
      crashed: (err) => {
        this.call?.cancel(err as Error);
        this.crashed(err);
      },
      broke: (err) => {
        this.plane.log.error({ err, requestId: this.requestId, route: this.route!.name }, 'response transform failed');
        this.call?.cancel(err as Error);
        this.errorCode = faultCode(err); // a plugin's transform: its fault (GW_POLICY_ERROR)
        this.breakOff();
      },
    });
  }

  private holdFor(info: ResponseInfo, rewrites: ResponseRewrite[]): void {
    this.held = new HeldResponse(info, rewrites, {
      head: (st, h) => {
        this.status = st;
        this.writeHead(st, h);
      },
      write: (c) => this.write(c),
      end: () => this.endResponse(null),
      refuse: (answer, cancel) => {
        if (cancel) this.call?.cancel(new Error('response body over the rewrite limit'));
        this.respond(answer);
      },
      crashed: (err) => this.crashed(err),
      gone: () => this.clientGone,
    });
  }

  upstreamBroke(code: ErrorCode): void {
    this.taps?.abort();
    this.transform?.abort();
    this.errorCode = code;
    this.breakOff();
  }

  /** The response is broken off mid-body: the client must see it incomplete (HTTP/2 resets its stream: http2/exchange.ts). */
  protected breakOff(): void {
    this.res.destroy();
  }
}

function noop(): void {
  /* a served response is in memory: nothing to resume */
}
