// What an upstream call (upstream-call.ts) is given and whom it tells its outcome: the request as
// every attempt sends it, and the owner (the exchange) that serves the client.
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { ErrorCode } from '../errors.js';
import type { HeaderList, RequestContext } from '../policies/types.js';
import type { RequestTrace } from '../observability/tracing/request-trace.js';
import type { Tracer } from '../observability/tracing/tracer.js';
import type { Answer } from './respond.js';

/** The request as every attempt sends it; only Host and traceparent change from one to the next. */
export interface UpstreamRequest {
  method: string;
  headers: HeaderList;
  /** Where each attempt writes its Host value; -1 when a policy set Host itself. */
  hostIndex: number;
  /** The client's Host, sent instead of the target's (preserveHost); undefined otherwise. */
  host: string | undefined;
  /** Where each attempt writes its traceparent; -1 without tracing. */
  traceIndex: number;
  /** The encoded path, without the target's base path. */
  path: string;
  query: string;
  body: Buffer | Readable | null;
  /** The client's trailers as they may go upstream, read once the body has ended (an HTTP/2 pool sends them). */
  trailers?: { readonly rawTrailers: readonly string[] };
}

/** A protocol upgrade asked of the service (undici writes `Connection: upgrade` and `Upgrade: <protocol>`). */
export interface UpgradeRequest {
  protocol: 'websocket';
  /** ms to connect and receive the 101 (instead of the service's response timeout). */
  timeout: number;
}

/** What the call needs from the request it serves, and where its outcome goes. */
export interface CallOwner {
  /**
   * What the call reads of the client's request: its method, whether its body was read whole, and
   * (for `retries.grpcMethods`) its URL and content-type when it has them.
   */
  readonly req: Pick<IncomingMessage, 'method' | 'readableEnded'> & Partial<Pick<IncomingMessage, 'url' | 'headers'>>;
  readonly requestId: string;
  readonly trace: RequestTrace | undefined;
  readonly tracer: Tracer | undefined;
  /** The request is observed (access log, metrics…): `upstreamMs` is measured. */
  readonly observed: boolean;
  /** A composite's call name: its client spans carry it. */
  readonly label?: string | undefined;
  /** The policies' context (consistent hashing reads it). */
  context(): RequestContext;
  /** Runs a later step from a callback; a throw answers the request (500) instead of escaping. */
  step(fn: () => void): void;
  /** The client's response has begun: a failure now can only cut it off. */
  headersSent(): boolean;
  /** Admitted: build the request and `send` it. */
  admitted(): void;
  /** The outcome "the gateway answers instead". */
  respond(answer: Answer): void;
  /** The outcome "the service could not answer" (no target, failures, circuit open, overload): the gateway's answer, unless a policy has a response to serve instead. */
  upstreamFailed(answer: Answer): void;
  /** The outcome "a response": its head. False: the owner answered instead, stop the body. */
  upstreamHead(status: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean;
  upstreamData(chunk: Buffer): boolean;
  /** The response ended; `trailers` are its trailer fields ([name, value, …]; null or empty: none). */
  upstreamEnd(trailers?: readonly (Buffer | string)[] | null): void;
  /** The response broke off after its head was sent. */
  upstreamBroke(code: ErrorCode): void;
  /** The service answered an upgrade with 101 and handed over its socket (upgrade calls only). */
  upstreamUpgrade?(status: number, rawHeaders: Buffer[] | string[], socket: Duplex): void;
}
