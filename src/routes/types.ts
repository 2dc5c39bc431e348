// The contract between the request lifecycle and a route kind: a route that answers by itself
// instead of proxying to one service (`compose`: several service calls composed into one answer;
// `batch`: several requests to this gateway's own routes in one). A kind's config lives under its
// key on the route (`routes[].compose`, `routes[].batch`, with its schema in src/config/); it is
// compiled once per config into a `RouteHandler`, which the exchange calls after the access and
// request body policies, in the place of the upstream call. What it returns goes through the same
// response side as a service's response (response and responseBody policies, access log,
// metrics), exactly as a response an access policy serves (a cache hit).
//
// A handler reaches services and the gateway only through what the exchange gives it
// (`RouteCall.fetch`, `RouteCall.dispatch`): the balancer, health checks, retries, circuit
// breaker, concurrency limit, identity headers and tracing stay the data plane's.
import type { ErrorCode } from '../errors.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { HeaderList, RequestContext, RespondVerdict, ServedResponse } from '../policies/types.js';
import type { Logger } from '../observability/logger.js';
import type { CallRecord } from '../observability/request-record.js';
import type { CancelSignal } from './cancel.js';

export type { CancelSignal };

export type { CallRecord };

/** One request a handler sends to a service of the config. */
export interface ServiceRequest {
  /** The service's name (the config's `services` key). */
  service: string;
  /** What the request is called in spans, logs and metrics (a composite's call name). */
  label: string;
  method: string;
  /** The path as it goes to the service (already encoded; the target's base path is put before it). */
  path: string;
  /** The query string without "?" ("" for none). */
  query: string;
  /** Fields of its own; the gateway adds forwarding, identity, trace and Host fields. */
  headers: HeaderList;
  body: Buffer | null;
  /** Longest wait for the whole answer, in ms (0: the service's own timeouts only). */
  timeoutMs: number;
  /** The largest response body read, in bytes; past it the request fails with `too-large`. */
  maxBodyBytes: number;
  /**
   * Abandons the request (`cancelled`). When given, it takes the place of the client's signal for
   * this request: a handler that passes one aborts it when the client goes away too.
   */
  signal?: CancelSignal | undefined;
}

/** Why a service request has no answer. */
export type ServiceFailure =
  /** A failure the gateway would have answered a proxied request with (no target, 502, 503…). */
  | { kind: 'error'; code: ErrorCode }
  /** `timeoutMs` passed first. */
  | { kind: 'timeout' }
  /** The response body was larger than `maxBodyBytes`. */
  | { kind: 'too-large' }
  /** The request was abandoned (the client went away, or the handler stopped waiting). */
  | { kind: 'cancelled' };

export type ServiceResult =
  | { ok: true; status: number; headers: HeaderList; body: Buffer; ms: number; target: string | undefined }
  | { ok: false; failure: ServiceFailure; ms: number; target: string | undefined };

/** A request to this gateway's own routes, as a batch item sends it. */
export interface InternalRequest {
  method: string;
  /** The request target: an absolute path with an optional query ("/users/1?x=y"). */
  target: string;
  headers: HeaderList;
  body: Buffer | null;
  /** The largest response body read, in bytes (default 8 MiB); past it the dispatch fails (`too-large`). */
  maxBodyBytes?: number | undefined;
  /** Cancels the dispatch: its connection is closed, and the exchange sees its client go away. */
  signal?: CancelSignal | undefined;
}

export interface InternalResponse {
  status: number;
  headers: HeaderList;
  body: Buffer;
}

/** What a handler gets per request. */
export interface RouteCall {
  readonly ctx: RequestContext;
  /** The client's body, read whole (null when it sent none). */
  readonly body: Buffer | null;
  /** Sends a request to a service of the config (abandoned when the client goes away, or with the request's own `signal`). */
  fetch(req: ServiceRequest): Promise<ServiceResult>;
  /**
   * Runs a request through this gateway's own routes and policies (absent where there is no data
   * plane); rejects with an InternalDispatchError (dispatch-error.ts).
   */
  dispatch?(req: InternalRequest): Promise<InternalResponse>;
  /** This request itself came through a dispatch (a batch item): it must not dispatch again. */
  readonly internal: boolean;
  /**
   * The `traceparent` a request dispatched for this one carries, naming this request's server span
   * as its parent (a batch's items are its children); undefined when this request is not traced
   * and sampled.
   */
  readonly traceparent?: string | undefined;
  /** Cancelled when the client goes away: stop what is running. */
  readonly signal: CancelSignal;
  /** Records a service call for the access log and metrics (`fetch` records its own). */
  readonly calls: CallRecord[];
}

/** What a handler answers: a whole response, or one of the gateway's answers. */
export type RouteAnswer =
  { serve: ServedResponse } | RespondVerdict | { error: ErrorCode; message?: string; details?: unknown; headers?: Record<string, string> };

export interface RouteHandler {
  /** The largest client body read whole for the handler, in bytes (413 past it). */
  readonly maxBodyBytes: number;
  /** Never throws to refuse: an answer says so. A throw is the gateway's fault (500). */
  handle(call: RouteCall): Promise<RouteAnswer>;
  /** Releases what it holds when the config that made it is retired. */
  close?(): void;
}

/** What a kind may use when it is compiled. */
export interface RouteKindEnv {
  readonly config: GatehouseConfig;
  readonly routeName: string;
  readonly log: Logger;
}

export interface RouteKindDefinition {
  /** The route key that selects this kind (`compose`). */
  readonly key: string;
  /** A route of this kind has no `service`; its own config is `route[key]`. */
  create(config: unknown, env: RouteKindEnv): RouteHandler;
  /** Checks beyond the schema (services named, templates, cycles), as issues under `routes[i].<key>`. */
  check?(config: unknown, services: ReadonlySet<string>): { path: string; message: string }[];
}
