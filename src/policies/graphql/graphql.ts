// `type: graphql` — the gateway understands GraphQL over HTTP on a route: each request's operation
// is parsed (once per distinct document), validated against the service's schema when one is
// given, measured (depth, aliases, root fields, fields, cost) and refused past the limits, in
// GraphQL's own error format, before the service sees it. Persisted operations (automatic
// persisted queries, or an allow-list) are resolved first. The operation's type and name go to the
// access log, metrics and traces; its cost to `rate-limit` with `cost: graphql`.
//
// A GET is read in the access phase (its query string); a POST in the requestBody phase. The
// policy is of class `authorise`: introspection may depend on the caller's groups, and it runs
// before every rate limit (class `limit`), which may charge the operation's cost.
import { ERRORS } from '../../errors.js';
import { parseSize } from '../../config/units.js';
import { graphqlRefusal } from '../../graphql/answer.js';
import { setOperation } from '../../graphql/operation.js';
import { ParseCache } from '../../graphql/parse-cache.js';
import { mediaType, paramsBody, paramsFromBody, paramsFromQuery, type GraphQLParams, type ParamsResult } from '../../graphql/request.js';
import { LRUCache } from 'lru-cache';
import {
  definePolicy,
  type AccessVerdict,
  type Policy,
  type PolicyEnv,
  type PolicyIssue,
  type RequestContext,
  type Verdict,
} from '../types.js';
import { Checker, costModel, type Refusal } from './check.js';
import { graphqlSchema, type GraphQLPolicyConfig } from './schema.js';
import { schemaFromFile, schemaHolder } from './schema-source.js';
import { createPersisted, persistedIssues, type Persisted } from './persisted.js';
import { persistedSections } from './persisted-schema.js';

const ALLOW = { allow: 'GET, POST' };
const REFUSED = Object.freeze({ protocol: 'graphql', type: 'refused' });

export const graphqlPolicy = definePolicy({
  type: 'graphql',
  description:
    'Understands GraphQL requests: limits on depth, aliases, root fields, fields, cost, size and tokens; introspection control; persisted operations; schema validation.',
  schema: graphqlSchema,
  phases: ['access', 'requestBody'],
  order: 'authorise',
  example: { maxDepth: 10 },
  sections: persistedSections,
  validate(config, _ctx, at) {
    const issues: PolicyIssue[] = [];
    if (config.schema !== undefined && 'file' in config.schema) {
      const r = schemaFromFile(config.schema);
      if (!r.ok) issues.push({ path: `${at}.schema.file`, message: r.message });
    }
    issues.push(...persistedIssues(config.persisted, at));
    return issues;
  },
  create(config, env): Policy {
    return new GraphQLPolicy(config, env);
  },
});

class GraphQLPolicy implements Policy {
  readonly bodyBufferBytes: number;
  private readonly checker: Checker;
  private readonly persisted: Persisted | undefined;
  private readonly schema;
  /**
   * A GET's parameters by its raw query string: decoding a GraphQL query string (percent-escapes,
   * JSON variables) cost 6 µs of a 60 µs request for a 250-character one (bench/README.md,
   * "GraphQL"); clients repeat theirs (persisted queries by GET exist to be repeated).
   */
  private readonly getParams: LRUCache<string, ParamsResult>;

  constructor(
    private readonly config: GraphQLPolicyConfig,
    env: PolicyEnv,
  ) {
    this.bodyBufferBytes = parseSize(config.maxBody);
    this.schema = schemaHolder(config.schema, env.log);
    this.persisted = config.persisted === undefined ? undefined : createPersisted(config.persisted, env);
    this.getParams = new LRUCache({
      max: config.parseCache.maxEntries,
      maxSize: parseSize(config.parseCache.maxSize),
      sizeCalculation: (_v, k) => Math.max(1, k.length),
    });
    this.checker = new Checker({
      config,
      maxDocumentBytes: parseSize(config.maxDocumentBytes),
      cache: new ParseCache({ maxEntries: config.parseCache.maxEntries, maxBytes: parseSize(config.parseCache.maxSize) }),
      model: costModel(config.cost),
      schema: () => this.schema.current(),
    });
  }

  access(ctx: RequestContext): AccessVerdict | Promise<AccessVerdict> {
    // A WebSocket handshake (graphql-ws subscriptions on a route with `websocket`) carries no
    // operation: its messages are not inspected (docs/graphql.md, what the gateway does not do).
    if (ctx.websocket === true) return undefined;
    const method = ctx.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return refusal(ctx, { code: 'GW_METHOD_NOT_ALLOWED' }, ALLOW);
    if (method !== 'POST' && !this.config.get)
      return refusal(ctx, { code: 'GW_METHOD_NOT_ALLOWED', message: 'this route takes GraphQL with POST only' }, { allow: 'POST' });
    if (method === 'POST') {
      const stray = strayParam(ctx.query, true);
      return stray === undefined ? undefined : refusal(ctx, { code: 'GW_GRAPHQL_BAD_REQUEST', message: stray }); // else read with its body
    }
    let read = this.getParams.get(ctx.query);
    if (read === undefined) {
      const stray = strayParam(ctx.query, false);
      read = frozen(stray === undefined ? paramsFromQuery(ctx.query) : { ok: false, message: stray });
      this.getParams.set(ctx.query, read);
    }
    if (!read.ok) return refusal(ctx, { code: 'GW_GRAPHQL_BAD_REQUEST', message: read.message });
    return this.run(ctx, read.params, false, (params) => {
      ctx.query = queryOf(ctx.query, params);
    });
  }

  requestBody(ctx: RequestContext, body: { body: Buffer; readonly contentType: string }): Verdict | Promise<Verdict> {
    // A GET was read in the access phase. The two places must not both hold parameters: a service
    // that reads the body of a GET, or the URL of a POST (express-graphql prefers it), would run
    // what the gateway did not check.
    if (ctx.method !== 'POST')
      return body.body.length === 0
        ? undefined
        : refusal(ctx, { code: 'GW_GRAPHQL_BAD_REQUEST', message: 'a GraphQL GET carries its parameters in the URL, and no body' });
    // (A POST with GraphQL parameters in its URL was refused in the access phase: strayParam.)
    const read = paramsFromBody(body.body, body.contentType);
    if (!read.ok) return refusal(ctx, { code: 'GW_GRAPHQL_BAD_REQUEST', message: read.message });
    return this.run(ctx, read.params, read.extraMembers === true, (params) => {
      // application/graphql: the body is the document itself, exactly what was checked.
      if (mediaType(body.contentType) !== 'application/graphql') body.body = paramsBody(params);
    }) as Verdict | Promise<Verdict>;
  }

  /** Resolves a persisted operation, checks it, and records it; `rewrite` puts a resolved document in what is forwarded. */
  private run(
    ctx: RequestContext,
    params: GraphQLParams,
    mustRewrite: boolean,
    rewrite: (p: GraphQLParams) => void,
  ): AccessVerdict | Promise<AccessVerdict> {
    if (this.persisted === undefined) {
      const verdict = this.finish(ctx, params);
      if (verdict === undefined && mustRewrite) rewrite(params);
      return verdict;
    }
    return this.persisted.resolve(params).then((r) => {
      if (!r.ok) return refusal(ctx, { code: r.code, message: r.message });
      const verdict = this.finish(ctx, r.params);
      if (verdict !== undefined) return verdict;
      if (r.rewritten || mustRewrite) rewrite(r.params);
      // An automatic persisted query is remembered only once its document passed every check.
      r.register?.();
      return undefined;
    });
  }

  private finish(ctx: RequestContext, params: GraphQLParams): AccessVerdict & Verdict {
    const r = this.checker.check(params, ctx.method === 'HEAD' ? 'GET' : ctx.method, ctx.identity);
    if (!r.ok) return refusal(ctx, r.refusal, r.refusal.code === 'GW_METHOD_NOT_ALLOWED' ? { allow: 'POST' } : undefined);
    setOperation(ctx, r.analysis);
    return undefined;
  }

  close(): void {
    this.schema.close();
    this.persisted?.close();
  }
}

function refusal(ctx: RequestContext, r: Refusal, headers?: Record<string, string>) {
  // Marked as a GraphQL request all the same: spans then leave out its query string, where a GET
  // carries variables; metrics and the access log count it as `refused`.
  ctx.operation ??= REFUSED;
  const accept = ctx.req.headers.accept;
  return graphqlRefusal(r.code, accept, r.message ?? ERRORS[r.code].message, r.details, headers);
}

/** Shared by every request with the same query string: nothing may change it. */
function frozen(r: ParamsResult): ParamsResult {
  if (r.ok) {
    deepFreeze(r.params.variables);
    deepFreeze(r.params.extensions);
    Object.freeze(r.params);
  }
  return Object.freeze(r);
}

function deepFreeze(v: unknown): void {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return;
  Object.freeze(v);
  for (const x of Object.values(v)) deepFreeze(x);
}

const PARAM_NAMES = ['query', 'operationName', 'variables', 'extensions'];
const PARAM_NAMES_LOWER = new Set(PARAM_NAMES.map((n) => n.toLowerCase()));

/**
 * Why the query string carries a GraphQL parameter the policy does not read (undefined: it does
 * not). What the policy checks must be what the service runs, and services read requests their
 * own way: many (express-graphql, koa-graphql, hapi's) take a POST's `query`, `variables` or
 * `operationName` from the URL before the body, and some read parameter names without regard to
 * case. A POST's parameters are its body's; a GET's are these exact names.
 */
function strayParam(rawQuery: string, post: boolean): string | undefined {
  if (rawQuery === '') return undefined;
  for (const name of new URLSearchParams(rawQuery).keys()) {
    if (!PARAM_NAMES_LOWER.has(name.toLowerCase())) continue;
    if (post) return `a POST carries its GraphQL parameters in its body, not in the URL: the query string has ${JSON.stringify(name)}`;
    if (!PARAM_NAMES.includes(name))
      return `the query string has ${JSON.stringify(name)}: GraphQL parameters are named exactly query, operationName, variables and extensions`;
  }
  return undefined;
}

/**
 * The query string with the parameters as checked in place of the client's: a resolved persisted
 * operation's document, and the JSON values written again (a key given twice is given once).
 */
function queryOf(raw: string, params: GraphQLParams): string {
  const q = new URLSearchParams(raw);
  q.set('query', params.query ?? '');
  const put = (name: string, value: string | undefined) => (value === undefined ? q.delete(name) : q.set(name, value));
  put('operationName', params.operationName);
  put('variables', params.variables === undefined ? undefined : JSON.stringify(params.variables));
  put('extensions', params.extensions === undefined ? undefined : JSON.stringify(params.extensions));
  return q.toString();
}
