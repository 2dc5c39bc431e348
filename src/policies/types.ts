// The contract between the request lifecycle and a policy. A policy is compiled once per config
// (schema-checked options in, a `Policy` out) and then runs per request in the phases it declares.
// It never throws to reject a request: it returns a verdict.
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import type { ErrorCode } from '../errors.js';
import type { ConsumerRegistry } from '../identity/registry.js';
import type { PolicyMetrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';
import type { RequestOperation } from '../observability/request-record.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { StoreRegistry } from '../store/registry.js';

/** Lifecycle phases, in the order a request passes them. */
export type Phase = 'access' | 'requestBody' | 'upstreamRequest' | 'upstreamResponse' | 'response' | 'responseBody' | 'log';
export const PHASES: readonly Phase[] = ['access', 'requestBody', 'upstreamRequest', 'upstreamResponse', 'response', 'responseBody', 'log'];

/** A flat header list, [name, value, name, value, ...], as node and undici use them. */
export type HeaderList = string[];

/** What a policy may answer instead of letting the request continue. */
export interface RespondVerdict {
  status: number;
  /**
   * A registered error code: the body becomes the standard JSON error — unless `body` is given
   * too (an error in the client's protocol's own format, e.g. GraphQL's), which is sent as it is;
   * the code is still what the access log and metrics record.
   */
  code?: ErrorCode;
  message?: string;
  /** With `code`: JSON-serialisable details in the error body's `details` (e.g. validation errors). */
  details?: unknown;
  headers?: Record<string, string>;
  /** A literal body. */
  body?: string;
}
/** `undefined` means continue. */
export type Verdict = RespondVerdict | undefined;

/**
 * A whole response a policy has (a cache's stored one). Given as an answer it takes the service's
 * place: the response and responseBody phases run on it as on the service's own, so what they add
 * (CORS, headers, transformations) is the same on a hit as on a miss.
 */
export interface ServedResponse {
  status: number;
  /** [name, value, …]; hop-by-hop fields are dropped as from a service's response. */
  headers: HeaderList;
  body: Buffer;
  /** Trailer fields, [name, value, …]. */
  trailers?: HeaderList | undefined;
}

/** An access phase's answer with a whole response instead of calling the service. */
export interface ServeVerdict {
  serve: ServedResponse;
  /**
   * From an access phase, for a GET: after serving, send the same request to the service in the
   * background (a stale-while-revalidate refresh). Called first with the background request's own
   * context (fresh `locals`); its response reaches the upstreamResponse phase only (a tap).
   */
  refresh?: ((ctx: RequestContext) => void) | undefined;
}

/** What an access phase returns: continue (undefined), an answer, or a response to serve. */
export type AccessVerdict = RespondVerdict | ServeVerdict | undefined;

/**
 * What the upstreamResponse phase sees: the service's response head as it came (hop-by-hop fields
 * dropped), before the response phase changes it — or, with `failed`, that there is none (the
 * service could not be reached or did not answer in time: the gateway's answer would be `status`
 * with that code).
 */
export interface UpstreamResponseInfo extends ResponseInfo {
  readonly failed?: ErrorCode | undefined;
}

/**
 * Sees a response body as it streams to the client, chunk by chunk, without holding it up (a
 * cache storing it). The chunks are the service's, before any responseBody rewrite.
 */
export interface BodyTap {
  data(chunk: Buffer): void;
  /** The body ended; its trailers ([name, value, …]) if any. */
  end(trailers: HeaderList | undefined): void;
  /** It will not end: the client went away, or the service broke off. */
  abort(): void;
}

/** An upstreamResponse phase's wish: watch the body as it streams, or answer with another response. */
export type UpstreamAction = { tap: BodyTap } | ServeVerdict | undefined;

export type { Identity } from '../identity/identity.js';
import type { Identity } from '../identity/identity.js';

/** Per-request facts a policy can read. Built once per request by the handler. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly method: string;
  readonly host: string;
  /** The canonical path: the one string used to route, to run policies and to forward. */
  readonly path: string;
  /** The raw query string without "?" ("" when there is none); a policy may change what is forwarded (key-auth hides its parameter). */
  query: string;
  readonly clientIp: string;
  readonly routeName: string;
  readonly serviceName: string;
  readonly params: Readonly<Record<string, string>>;
  /** Set by the authentication policy that verified the caller; undefined until then. */
  identity: Identity | undefined;
  /**
   * Headers ([name, value, …]) the gateway's own answers of this request carry too: its errors
   * (502, 504, …) and a later policy's verdict, which skip the response phase (e.g. RateLimit
   * fields, CORS allow headers). Added with `addErrorHeaders`; a verdict's own headers win.
   */
  errorHeaders?: HeaderList | undefined;
  /** The limit a policy in shadow mode would have refused this request with (the access log's `shadowLimited`). */
  shadowLimited?: string | undefined;
  /** What a cache did with this request (hit, miss, stale, bypass…): the access log's `cache`. */
  cacheStatus?: string | undefined;
  /**
   * The application-level operation the request carries, once a policy that understands its
   * protocol has read it (a GraphQL operation's type and name). The access log's `operation`, a
   * span attribute and a metric label; never the operation's arguments or variables.
   */
  operation?: RequestOperation | undefined;
  /**
   * Where the request goes instead of its own method and (rewritten) path, set by a policy that
   * translates it into another protocol (grpc-transcode: `GET /v1/users/42` goes to the service as
   * `POST /acme.users.v1.Users/GetUser`). The path is canonical, as `path` is; the gateway encodes it
   * (a method that is not a token, or a path that is not canonical, is answered 500 GW_POLICY_ERROR, never sent).
   */
  upstreamTarget?: { method: string; path: string } | undefined;
  /** A policy's private per-request scratch, under a key of its own; the gateway never reads it. */
  readonly locals: Map<string, unknown>;
  /**
   * The request is a WebSocket handshake on a route that proxies them (set before the access
   * phase; absent otherwise). Browsers apply no CORS to WebSockets: an origin check must refuse.
   */
  readonly websocket?: true;
}

export type { RequestOperation };
export interface ResponseInfo {
  status: number;
  headers: HeaderList;
}

/**
 * The request body, read whole for the requestBody phase (only on routes with such a policy). A
 * policy may replace `body`; the gateway then sends the new one with its own Content-Length.
 */
export interface RequestBody {
  body: Buffer;
  /** The request's Content-Type field as sent ('' when none). */
  readonly contentType: string;
}

/**
 * A responseBody phase that wants the response body whole (a transformation): the gateway holds
 * the response head, reads the body up to `maxBytes`, calls `rewrite`, and sends the result with
 * its own Content-Length. Only the responses a policy returns one for are buffered; the others
 * stream as always.
 */
export interface ResponseRewrite {
  /** The largest body it reads, in bytes. */
  readonly maxBytes: number;
  /** A larger body: 'pass' sends it as it came, unchanged; 'error' answers 502 GW_UPSTREAM_BODY_TOO_LARGE. */
  readonly tooLarge: 'pass' | 'error';
  /**
   * The new body. It may change `res.status` and `res.headers` too (Content-Length and
   * Transfer-Encoding are the gateway's). A BodyRefusal it throws is the answer (e.g. 502 with the
   * policy's code); any other failure is the gateway's (500).
   */
  rewrite(body: Buffer, res: ResponseInfo): Buffer | Promise<Buffer>;
}

/**
 * A responseBody phase that translates the body as it streams instead of reading it whole (a
 * protocol translation: gRPC messages to JSON lines, gRPC trailers into a gRPC-Web body). The
 * response head waits for the transform's first output, so until then it may change `res.status`
 * and `res.headers` (Content-Length and Transfer-Encoding are the gateway's: a body that ends
 * before any output goes with its length, otherwise it streams). The responseBody policies that
 * read bodies whole (ResponseRewrite) are asked about the transform's output, with its head.
 */
export interface ResponseTransform {
  /**
   * A chunk of the service's body (its chunks as they come: the transform keeps what it needs
   * across them). Returns what goes to the client now; undefined or empty: nothing yet. A
   * BodyRefusal it throws before any output is the answer; any later failure breaks the response off.
   */
  data(chunk: Buffer, res: ResponseInfo): Buffer | undefined;
  /** The body ended, with the service's trailers ([name, value, …]) if any: the last output. */
  end(trailers: HeaderList | undefined, res: ResponseInfo): Buffer | undefined;
  /** The body will not end (the service broke off, or the client went away). */
  abort?(): void;
}

/** Thrown by a body phase to answer with a registered error code (e.g. a body that cannot be transformed). */
export class BodyRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** JSON-serialisable details for the error body. */
    readonly details?: unknown,
    /** Another status than the code's own (a SOAP client fault mapped to 400). */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Policy {
  access?(ctx: RequestContext): AccessVerdict | Promise<AccessVerdict>;
  /**
   * Reads (and may replace) the whole request body, after the access phase and before the upstream
   * call; may answer instead. The route reads bodies up to the smallest `bodyBufferBytes` of these
   * policies (413 past it).
   */
  requestBody?(ctx: RequestContext, body: RequestBody): Verdict | Promise<Verdict>;
  /** Mutates the headers about to be sent upstream. */
  upstreamRequest?(ctx: RequestContext, headers: HeaderList): void;
  /**
   * The service's response head, before the response phase (the header list is the one that phase
   * then changes: copy what you keep); also called, with `failed`, when there is no response. It
   * may tap the body as it streams, or serve another response in its place (a stored one after a
   * 304, or a stale one for a 5xx): the service's body is then read and dropped.
   */
  upstreamResponse?(ctx: RequestContext, res: UpstreamResponseInfo): UpstreamAction;
  /** Mutates the response status line and headers before they reach the client. */
  response?(ctx: RequestContext, res: ResponseInfo): void;
  /**
   * After the response phase: a rewrite when this response's body must be read whole (looked at
   * per response: status, Content-Type…), undefined to let it stream.
   */
  responseBody?(ctx: RequestContext, res: ResponseInfo): ResponseRewrite | ResponseTransform | undefined;
  log?(ctx: RequestContext, status: number): void;
  /**
   * Whether its requestBody phase needs this request's body (asked after the access phase; absent:
   * always). When no requestBody policy of the route needs it, the body streams upstream as on a
   * route without one (a gRPC call with grpc-web's policy on its route: only grpc-web-text is
   * decoded, and a native gRPC call keeps streaming both ways).
   */
  readsBody?(ctx: RequestContext): boolean;
  /**
   * The largest request body its requestBody phase reads, in bytes (default 1 MiB). Infinity: it
   * reads none itself (it only needs the phase's place in the lifecycle): the bound is the other
   * policies', or the default when there are none.
   */
  readonly bodyBufferBytes?: number;
  /**
   * Largest request body in bytes this policy lets through (request-size-limit). The route keeps
   * the smallest; a chunked body is counted while it streams and cut off with 413 past it.
   */
  readonly maxBodyBytes?: number;
  /**
   * Its access phase answers CORS preflights (OPTIONS with Access-Control-Request-Method). On a
   * route that does not take OPTIONS, such a request is then routed by the method it asks about,
   * so that this policy can answer it; it is never forwarded (405 with Allow if nothing answers).
   */
  readonly answersPreflight?: boolean;
  /** Releases timers or connections when the config that made it is retired. */
  close?(): void;
}

/** What a policy may use when it is compiled, besides its own config. */
export interface PolicyEnv {
  /** The consumer registry of the config being compiled. */
  consumers: ConsumerRegistry;
  /** The gateway's own log (why a request was refused, etc.). */
  log: Logger;
  /** The whole config (top-level sections such as `store` and `plans`). */
  config: GatehouseConfig;
  /** The data plane's shared stores (rate-limit counters survive reloads). */
  stores: StoreRegistry;
  /** The route the policy is attached to; undefined for a global policy. */
  routeName: string | undefined;
  /** Counters policies feed (auth failures, rate-limit decisions); absent when metrics are off. */
  metrics?: PolicyMetrics | undefined;
}

/**
 * Where a policy runs in a route's chain, whatever the order it is listed in (as Kong orders
 * plugins by priority). The chain is the global policies and then the route's own, sorted by
 * class in this order, stable within a class (listing order kept):
 * - `edge`: cheap checks and answers that need no identity and shed hostile or foreign traffic
 *   before anything costly runs (cors, ip-restriction, bot-detection);
 * - `authenticate`: sets `ctx.identity` (key-auth, basic-auth, jwt, oauth2-introspection, mtls, auth);
 * - `authorise`: decides on the identity (acl);
 * - `limit`: counts or bounds what passed (rate-limit, concurrency-limit, request-size-limit), so a
 *   limit by consumer counts the verified consumer;
 * - `transform`: changes what goes upstream or back to the client (headers);
 * - `other`: anything else, last (request-termination: it answers in the service's place, so
 *   whatever guards the service guards it too).
 */
export type PolicyOrder = 'edge' | 'authenticate' | 'authorise' | 'limit' | 'transform' | 'other';
export const POLICY_ORDER: readonly PolicyOrder[] = ['edge', 'authenticate', 'authorise', 'limit', 'transform', 'other'];

/**
 * An entry's class: the definition's `orderFor(config)` or else its `order`; `other` when a
 * plugin written in JavaScript left it out or misspelt it.
 */
export function orderOf(def: Pick<PolicyDefinition, 'order' | 'orderFor'>, config?: unknown): PolicyOrder {
  const order = config !== undefined && def.orderFor ? def.orderFor(config) : def.order;
  return POLICY_ORDER.includes(order) ? order : 'other';
}

/** What one authentication method decided. */
export type AuthOutcome =
  | { ok: true; identity: Identity }
  /** `absent`: the request carried no credential of this kind. `forbidden`: verified but not allowed (403). */
  | { ok: false; reason: string; absent?: boolean; forbidden?: boolean };

/**
 * One authentication method, as an authentication policy and the `auth` combination use it
 * (identity/authenticator.ts turns one into a policy).
 */
export interface Authenticator {
  /** The policy type, e.g. "key-auth" (Identity.method and log lines). */
  readonly method: string;
  /** The WWW-Authenticate challenge for a 401. */
  readonly challenge: string;
  authenticate(ctx: RequestContext): AuthOutcome | Promise<AuthOutcome>;
  /** Removes the credential from the upstream request (hideCredentials). */
  hide?(ctx: RequestContext, headers: HeaderList): void;
  /** Adds what this method tells the upstream besides the identity headers (claim mappings). */
  upstream?(ctx: RequestContext, headers: HeaderList): void;
  close?(): void;
}

/** A policy type: its config schema, the phases it uses, and its factory. */
export interface PolicyDefinition<S extends z.ZodType = z.ZodType> {
  type: string;
  description: string;
  schema: S;
  /** The phases it may run in; the policies it creates implement no others (checked when compiled). */
  phases: readonly Phase[];
  /** Its place in a route's chain (see PolicyOrder): the chain runs class by class, whatever the listing order. */
  order: PolicyOrder;
  /**
   * An entry's own class when its config changes where it belongs (a rate limit keyed by IP runs
   * with the edge policies, before authentication; one keyed by consumer after it). Default: `order`.
   */
  orderFor?(config: z.output<S>): PolicyOrder;
  /**
   * Authentication policies: the method itself, for the `auth` combination (anyOf/allOf), which
   * finds it through the registry by the nested entry's type. `config` is the nested entry as this
   * schema outputs it (the combination's own `anonymous`/`hideCredentials` are not in it). A type
   * without one cannot be an `auth` method (a config error).
   */
  authenticator?(config: z.output<S>, env: PolicyEnv): Authenticator;
  /** A minimal valid entry (without `type`): the contract test compiles it; docs may show it. */
  example: Record<string, unknown>;
  /**
   * What the schema cannot check: values that must parse, references into the rest of the config.
   * Runs on an entry that passed the schema (also when other parts of the document did not);
   * `at` is the entry's path ("routes[0].policies[1]"), for the issues' paths.
   */
  validate?(config: z.output<S>, ctx: PolicyCheckContext, at: string): PolicyIssue[];
  /**
   * Top-level config keys this type owns, a schema each (rate-limit: `plans`, `defaultPlan`).
   * They are part of every config that knows the type (defaults apply), documented in its JSON
   * Schema, and read in `create` with `section(env.config, key)`.
   */
  sections?: Readonly<Record<string, z.ZodType>>;
  /**
   * What the section schemas cannot check: references between this type's sections, the
   * consumers and its entries anywhere in the config. Runs once per config, when every one of
   * its sections passed its schema (also when other parts of the document did not).
   */
  validateSections?(view: SectionCheckView): PolicyIssue[];
  /**
   * GET /consumers/:id/usage: what this type's entries (every one in the config, with its route)
   * count against `consumer` now, read without taking anything (rate-limit: each limit's used,
   * remaining and reset, and the consumer's plan).
   */
  consumerUsage?(entries: readonly ConfigEntry<z.output<S>>[], consumer: ConsumerRecord, env: UsageEnv): Promise<UsageReport>;
  /**
   * Plugins only: the longest an asynchronous access phase may take, in ms, before the request is
   * answered 500 GW_POLICY_ERROR (default 10 000). Built-ins bound their own waits.
   */
  timeout?: number;
  create(config: z.output<S>, env: PolicyEnv): Policy;
}

/** An entry of a type as the config lists it: its config, and its route (undefined: a global policy). */
export interface ConfigEntry<C> {
  readonly config: C;
  readonly route: string | undefined;
}
export type ConsumerRecord = GatehouseConfig['consumers'][number];
/** What a `consumerUsage` hook reads besides its entries: the whole config and the data plane's stores. */
export interface UsageEnv {
  readonly config: GatehouseConfig;
  readonly stores: StoreRegistry;
}
/** A `consumerUsage` answer: the consumer's plan where the type has plans, and one report per limit. */
export interface UsageReport {
  plan?: string;
  limits: Record<string, unknown>[];
}

export interface PolicyIssue {
  path: string;
  message: string;
}

/** What a `validateSections` hook reads: its own sections (parsed), the consumers, the entries of its type. */
export interface SectionCheckView {
  /** This type's sections, by key, as their schemas output them. */
  readonly sections: Readonly<Record<string, unknown>>;
  readonly consumers: readonly { readonly plan?: string | undefined }[];
  /** Every entry of this type that passed the schema, with its path ("routes[0].policies[1]"). */
  readonly entries: readonly { readonly at: string; readonly config: Readonly<Record<string, unknown>> }[];
}

/**
 * A top-level section a definition contributes (`sections`), as its own schema made it. The
 * config's static type knows only the core keys; the definition that declared the section is
 * the one that reads it, so the cast is checked by validation, not by the compiler.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- public plugin API: T is the caller's word for the section's type, checked by validation (above); plugins call section<T>()
export function section<T>(config: object, key: string): T {
  return (config as Record<string, unknown>)[key] as T;
}

/** What a definition's `validate` hook sees besides its own entry. */
export interface PolicyCheckContext {
  /** The ids of the config's consumers. */
  readonly consumerIds: ReadonlySet<string>;
  /** Checks an entry nested in this one (the methods of `auth`) with its own type's hook. */
  nested(entry: { type: string }, at: string): PolicyIssue[];
}

/**
 * A created policy may leave out a declared phase its config makes a no-op (a `headers` policy
 * with no request edits has no upstreamRequest), but it must not implement one it does not declare:
 * the lifecycle runs every phase method it finds, while `explain`, the docs and the ordering read
 * the declaration. Checked when a policy is compiled, so the definition's author hears of it then.
 */
export function phaseMismatch(def: Pick<PolicyDefinition, 'type' | 'phases'>, policy: Policy): string | undefined {
  const undeclared = PHASES.filter((phase) => typeof policy[phase] === 'function' && !def.phases.includes(phase));
  if (undeclared.length === 0) return undefined;
  return `policy type "${def.type}" implements ${undeclared.join(', ')} but declares only [${def.phases.join(', ')}]`;
}

export function definePolicy<S extends z.ZodType>(def: PolicyDefinition<S>): PolicyDefinition<S> {
  return def;
}
