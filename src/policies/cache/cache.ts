// The `cache` policy: an RFC 9111 shared cache in front of a route's service. Its phases:
//
//   access            look the request up (after auth and limits, which run on a hit too): serve a
//                     fresh stored response (or 304 to a client that has it), or go to the service —
//                     conditionally when a stale one has validators. Concurrent misses for one key
//                     wait for the first (coalescing).
//   upstreamRequest   the stored validators on a revalidation.
//   upstreamResponse  a 304 to a revalidation: the stored response, updated, answers; a failure
//                     (5xx, unreachable) within stale-if-error: the stale one answers; a storable
//                     response: tapped and stored as it streams to the client. An unsafe method's
//                     success invalidates the target URI, Location and Content-Location (§4.4).
//   response          Cache-Status (RFC 9211) on every response of the route.
//   log               whatever happened, the key is released for waiting requests.
import {
  definePolicy,
  type AccessVerdict,
  type Policy,
  type RequestContext,
  type ServeVerdict,
  type UpstreamAction,
  type UpstreamResponseInfo,
} from '../types.js';
import type { CacheEntry, CacheStore } from '../../store/cache/types.js';
import { parseDuration, parseSize } from '../../config/units.js';
import { addErrorHeaders } from '../error-headers.js';
import { cacheSchema, type CacheConfig } from './schema.js';
import { cacheControl, has, parseDirectives, type Directives } from './cache-control.js';
import { field, judge, notStorable, type FreshnessRules, type Judged } from './freshness.js';
import { cacheKey, keyParts, type KeyParts } from './key.js';
import { requestValue, selectVariant, varyNames } from './vary.js';
import { mergeNotModified } from './conditional.js';
import { ttlSeconds, usage } from './lookup.js';
import { StoreTap } from './store-tap.js';
import { servedFrom } from './served.js';
import { invalidatedPrefixes, responseTags } from './invalidate.js';
import { responseDirectives } from './targeted.js';
import { Coalescer, type Lead } from './coalesce.js';
import { bypassed, compileBypass, unkeyable, type BypassCheck } from './bypass.js';
import { storeFor } from './store-spec.js';
import { cacheEvents, type CacheEvents } from './events.js';
import { beginState, stateOf, type State } from './state.js';

const NO_DIRECTIVES: Directives = parseDirectives('');
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** How long an expired entry with validators is kept to revalidate with. */
const KEEP_FOR_REVALIDATION_MS = 86_400_000;
/** The longest a store keeps anything (a max-age of years is not a reason to hold memory for years). */
const MAX_STORE_TTL_MS = 365 * 86_400_000;

export const cachePolicy = definePolicy({
  type: 'cache',
  description: 'An RFC 9111 shared cache of the route’s responses, in memory or Redis, with request coalescing.',
  schema: cacheSchema,
  phases: ['access', 'upstreamRequest', 'upstreamResponse', 'response', 'log'],
  // It answers in the service's place: whatever guards the service (auth, ACL, limits) runs first.
  order: 'other',
  example: { ttl: '60s' },
  create(config, env) {
    return new Cache(config, storeFor(config, env), cacheEvents(env, config));
  },
});

class Cache implements Policy {
  private readonly parts: KeyParts;
  private readonly rules: FreshnessRules;
  private readonly statuses: ReadonlySet<number>;
  private readonly methods: ReadonlySet<string>;
  private readonly maxObject: number;
  private readonly staleIfError: number;
  private readonly bypass: BypassCheck | undefined;
  private readonly coalescer: Coalescer | undefined;
  private readonly tagHeaders: readonly string[];

  constructor(
    private readonly config: CacheConfig,
    private readonly store: CacheStore,
    private readonly events: CacheEvents,
  ) {
    this.parts = keyParts(config.key);
    this.rules = {
      defaultTtlMs: config.ttl === undefined ? undefined : parseDuration(config.ttl),
      heuristic: config.heuristic,
      heuristicMaxMs: 86_400_000,
      targets: config.targetedCacheControl.map((t) => t.toLowerCase()),
    };
    this.statuses = new Set(config.statuses);
    this.methods = new Set(config.methods);
    this.maxObject = parseSize(config.maxObjectSize);
    this.staleIfError = parseDuration(config.staleIfError);
    this.bypass = compileBypass(config.bypass);
    this.coalescer = config.coalesce.enabled ? new Coalescer(parseDuration(config.coalesce.timeout)) : undefined;
    this.tagHeaders = config.tagHeaders.map((h) => h.toLowerCase());
  }

  access(ctx: RequestContext): AccessVerdict | Promise<AccessVerdict> {
    const method = ctx.method;
    // A WebSocket handshake is a GET for the URI, but asks to switch protocols: a stored answer
    // to a plain GET would refuse the connection (and the 101 is not a response to store).
    if (ctx.websocket === true) {
      beginState(ctx, '', 'fwd=bypass', 'bypass');
      return undefined;
    }
    if (!this.methods.has(method) || (method !== 'GET' && method !== 'HEAD')) {
      const st = beginState(ctx, '', 'fwd=method', 'bypass');
      st.invalidate = !SAFE.has(method);
      return undefined;
    }
    if (unkeyable(ctx) !== undefined || (this.bypass !== undefined && bypassed(this.bypass, ctx))) {
      beginState(ctx, '', 'fwd=bypass', 'bypass');
      this.events.event(ctx.routeName, 'bypass');
      return undefined;
    }
    const reqCc = this.config.requestDirectives === 'honour' ? cacheControl(ctx.req.rawHeaders) : NO_DIRECTIVES;
    const st = beginState(ctx, cacheKey(ctx, this.parts), 'fwd=uri-miss', 'miss');
    st.requestNoStore = has(reqCc, 'no-store');
    // A request whose answer is never stored (a HEAD, a Range request's 206, a no-store request)
    // never leads: the GETs waiting on it would all go to the service at once when it ends (one
    // sent just before expiry would undo the coalescing). It follows a lead, if there is one.
    if (method === 'HEAD' || ctx.req.headers.range !== undefined || st.requestNoStore)
      return this.lookup(ctx, st, reqCc, this.coalescer?.follow(st.key), false);
    const lead = this.coalescer?.lead(st.key);
    // Another request for this key is at the service: a usable stored response still answers at
    // once; only what would go to the service waits for it.
    if (lead !== undefined && !lead.first) return this.lookup(ctx, st, reqCc, lead.waited, false);
    st.lead = lead;
    return this.lookup(ctx, st, reqCc, undefined, false);
  }

  private async lookup(
    ctx: RequestContext,
    st: State,
    reqCc: Directives,
    wait: Promise<void> | undefined,
    coalesced: boolean,
  ): Promise<AccessVerdict> {
    let variants: CacheEntry[] = [];
    try {
      variants = await this.store.get(st.key);
      this.events.storeAnswered();
    } catch (err) {
      this.events.storeFailed(err); // served from the service; logged once per outage, counted
    }
    const now = Date.now();
    const entry = selectVariant(variants, ctx.req);
    if (entry === undefined) {
      if (wait !== undefined) return wait.then(() => this.lookup(ctx, st, reqCc, undefined, true));
      if (variants.length > 0) st.status = 'fwd=vary-miss';
      return this.miss(ctx, st, reqCc, coalesced);
    }
    const j = judge(entry, this.rules, now, this.staleIfError);
    st.entry = entry;
    st.judged = j;
    const use = usage(j, reqCc);
    if (use === 'serve' || use === 'serve-stale-refresh') {
      st.word = j.fresh ? 'hit' : 'stale';
      this.events.event(ctx.routeName, j.fresh ? (coalesced ? 'coalesced' : 'hit') : 'stale');
      const served = servedFrom(ctx.req, entry, j.age);
      // stale-while-revalidate: one refresh per key (the request that leads it), GET only.
      const refresh = use === 'serve-stale-refresh' && st.lead?.first === true && ctx.method === 'GET';
      st.status = `hit; ttl=${ttlSeconds(j)}${j.fresh ? '' : refresh ? '; detail=stale-while-revalidate' : '; detail=stale'}${coalesced ? '; collapsed' : ''}`;
      if (!refresh) {
        this.release(st);
        return served;
      }
      const lead = st.lead;
      st.lead = undefined; // the refresh holds the key now, not this request
      return { ...served, refresh: (rctx) => this.refreshing(rctx, st.key, entry, j, lead) };
    }
    if (wait !== undefined) return wait.then(() => this.lookup(ctx, st, reqCc, undefined, true));
    // Stale, or the client or the response asks for a check: to the service, conditionally if it can be.
    st.revalidate = field(entry.response.headers, 'etag') !== undefined || field(entry.response.headers, 'last-modified') !== undefined;
    st.status = has(reqCc, 'no-cache') || has(reqCc, 'max-age') || has(reqCc, 'min-fresh') ? 'fwd=request' : 'fwd=stale';
    return this.miss(ctx, st, reqCc, coalesced);
  }

  /** The background refresh's own state: a revalidation (or a plain fetch) of `entry`, leading the key. */
  private refreshing(ctx: RequestContext, key: string, entry: CacheEntry, j: Judged, lead: Lead | undefined): void {
    const st = beginState(ctx, key, 'fwd=stale', 'refresh');
    st.entry = entry;
    st.judged = j;
    st.revalidate = field(entry.response.headers, 'etag') !== undefined || field(entry.response.headers, 'last-modified') !== undefined;
    st.lead = lead;
  }

  private miss(ctx: RequestContext, st: State, reqCc: Directives, coalesced: boolean): AccessVerdict {
    if (has(reqCc, 'only-if-cached')) {
      this.release(st);
      st.status = 'fwd=miss; detail=only-if-cached';
      return { status: 504, code: 'GW_NOT_CACHED', headers: { 'cache-status': `gatehouse; ${st.status}` } };
    }
    this.events.event(ctx.routeName, 'miss');
    if (coalesced) st.status += '; collapsed';
    // The gateway's own errors for this request (502, 504…) skip the response phase: they say it too.
    addErrorHeaders(ctx, ['cache-status', `gatehouse; ${st.status}`]);
    return undefined;
  }

  upstreamRequest(ctx: RequestContext, headers: string[]): void {
    const st = stateOf(ctx);
    if (st === undefined || !st.revalidate || st.entry === undefined) return;
    // The cache's own validators replace the client's: the 304 must be about what the cache holds.
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!.toLowerCase();
      if (n === 'if-none-match' || n === 'if-modified-since') {
        headers.splice(i, 2);
        i -= 2;
      }
    }
    const stored = st.entry.response.headers;
    const etag = field(stored, 'etag');
    const lastModified = field(stored, 'last-modified');
    if (etag !== undefined) headers.push('if-none-match', etag);
    if (lastModified !== undefined) headers.push('if-modified-since', lastModified);
  }

  upstreamResponse(ctx: RequestContext, res: UpstreamResponseInfo): UpstreamAction {
    const st = stateOf(ctx);
    if (st === undefined) return undefined;
    if (st.invalidate) {
      if (res.failed === undefined && res.status < 400) this.invalidate(ctx, st.query, res.headers);
      return undefined;
    }
    if (st.key === '') return undefined; // bypassed
    if (res.failed !== undefined || res.status >= 500) {
      const stale = this.staleOnError(ctx, st);
      if (stale !== undefined || res.failed !== undefined) {
        this.release(st);
        return stale;
      }
    }
    if (st.revalidate && res.status === 304 && st.entry !== undefined) return this.revalidated(ctx, st, res);
    return this.storing(ctx, st, res);
  }

  private staleOnError(ctx: RequestContext, st: State): ServeVerdict | undefined {
    const j = st.judged;
    if (st.entry === undefined || j === undefined || j.age - j.lifetime > j.ifError) return undefined;
    st.word = 'stale';
    st.status = `hit; ttl=${ttlSeconds(j)}; detail=stale-if-error`;
    this.events.event(ctx.routeName, 'stale');
    return servedFrom(ctx.req, st.entry, j.age);
  }

  /** A 304 to the cache's validators: the stored response, its fields updated, answers and is stored again. */
  private revalidated(ctx: RequestContext, st: State, res: UpstreamResponseInfo): ServeVerdict {
    const old = st.entry!;
    const now = Date.now();
    const entry: CacheEntry = {
      ...old,
      response: { ...old.response, headers: mergeNotModified(old.response.headers, res.headers) },
      requestTime: st.requestTime,
      responseTime: now,
    };
    st.word = 'revalidated';
    this.events.event(ctx.routeName, 'revalidated');
    // The updated response is stored only if it may be as a whole: a 304 that sets a cookie (the
    // revalidating client's session), or says private or no-store, answers this client alone.
    const headers = entry.response.headers;
    const why = notStorable(old.response.status, headers, cacheControl(headers), {
      statuses: this.statuses,
      authorized: this.authorized(ctx),
      requestNoStore: st.requestNoStore,
      rules: this.rules,
    });
    if (why === undefined) {
      st.status = 'fwd=stale; fwd-status=304; stored';
      this.put(st, entry);
    } else {
      st.status = 'fwd=stale; fwd-status=304';
      this.release(st);
    }
    return servedFrom(ctx.req, entry, judge(entry, this.rules, now, this.staleIfError).age);
  }

  /** A response from the service: tapped to be stored if a shared cache may store it. */
  private storing(ctx: RequestContext, st: State, res: UpstreamResponseInfo): UpstreamAction {
    st.status = st.status.replace('; collapsed', '') + `; fwd-status=${res.status}`;
    const cc = responseDirectives(res.headers, this.rules.targets);
    const why =
      ctx.method !== 'GET'
        ? 'method'
        : notStorable(res.status, res.headers, cc, {
            statuses: this.statuses,
            // §3.5, for any credential the gateway verified too (an API key in its own header): such a
            // response is another consumer's unless it says it is shared — or the key has the consumer.
            authorized: this.authorized(ctx),
            requestNoStore: st.requestNoStore,
            rules: this.rules,
          });
    const length = Number(field(res.headers, 'content-length'));
    if (
      why !== undefined ||
      length > this.maxObject ||
      (!has(cc, 'max-age') &&
        !has(cc, 's-maxage') &&
        (res.status === 302 || res.status === 307) &&
        field(res.headers, 'expires') === undefined)
    ) {
      this.release(st);
      return undefined;
    }
    st.status += '; stored';
    const names = varyNames(res.headers);
    const head = {
      response: { status: res.status, headers: res.headers.slice() },
      requestTime: st.requestTime,
      responseTime: Date.now(),
      vary: names,
      varyValues: names.map((n) => requestValue(ctx.req, n)),
      tags: responseTags(this.tagHeaders, res.headers),
    };
    return {
      tap: new StoreTap(this.maxObject, head, (entry) => {
        if (entry === undefined) this.release(st);
        else this.put(st, entry);
      }),
    };
  }

  /**
   * Whether §3.5 applies: a credential the key does not tell apart. `consumer` in the key tells apart
   * only a consumer the gateway verified: an Authorization it did not verify (no auth policy, or an
   * anonymous fallback), or a token that maps to no consumer (a JWT's `sub` unknown here: its key
   * part is empty, as an anonymous request's), would put one client's answer under a shared key.
   */
  private authorized(ctx: RequestContext): boolean {
    const id = ctx.identity;
    const consumer = id?.consumerId ?? id?.username;
    const keyed = this.parts.consumer && consumer !== undefined && consumer !== '';
    if (ctx.req.headers.authorization !== undefined) return !(keyed && id!.anonymous !== true);
    return id !== undefined && !keyed;
  }

  private put(st: State, entry: CacheEntry): void {
    if (st.lead !== undefined) st.lead.storing = true; // the waiting requests go once it is stored
    const j = judge(entry, this.rules, entry.responseTime, this.staleIfError);
    const keep = Math.max(
      j.ifError,
      j.whileRevalidate,
      st.revalidate || field(entry.response.headers, 'etag') !== undefined || field(entry.response.headers, 'last-modified') !== undefined
        ? KEEP_FOR_REVALIDATION_MS
        : 0,
    );
    const ttl = Math.min(MAX_STORE_TTL_MS, Math.max(1, j.lifetime - (j.age - 0)) + keep);
    this.store.put(st.key, entry, ttl).then(
      () => {
        this.events.stored(entry.response.body.length);
        this.release(st);
      },
      (err: unknown) => {
        this.events.storeFailed(err);
        this.release(st);
      },
    );
  }

  /** RFC 9111 §4.4: the target URI, and Location / Content-Location on the same host. */
  private invalidate(ctx: RequestContext, query: string, headers: readonly string[]): void {
    for (const prefix of invalidatedPrefixes(ctx, query, headers, this.parts))
      this.store.deletePrefix(prefix).catch((err: unknown) => this.events.storeFailed(err));
  }

  response(ctx: RequestContext, res: { status: number; headers: string[] }): void {
    const st = stateOf(ctx);
    if (st === undefined) return;
    res.headers.push('cache-status', `gatehouse; ${st.status}`);
    ctx.cacheStatus = st.word;
  }

  log(ctx: RequestContext): void {
    const st = stateOf(ctx);
    if (st === undefined) return;
    ctx.cacheStatus ??= st.word;
    // A request that ended before its response was stored (or not) lets the waiting ones go.
    if (st.lead !== undefined && !st.lead.storing) this.release(st);
  }

  private release(st: State): void {
    st.lead?.done();
    st.lead = undefined;
  }
}
