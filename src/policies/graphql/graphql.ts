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
import { paramsBody, paramsFromBody, paramsFromQuery, type GraphQLParams } from '../../graphql/request.js';
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

const ALLOW = { allow: 'GET, POST' };

export const graphqlPolicy = definePolicy({
  type: 'graphql',
  description:
    'Understands GraphQL requests: limits on depth, aliases, root fields, fields, cost, size and tokens; introspection control; persisted operations; schema validation.',
  schema: graphqlSchema,
  phases: ['access', 'requestBody'],
  order: 'authorise',
  example: { maxDepth: 10 },
  validate(config, _ctx, at) {
    const issues: PolicyIssue[] = [];
    if (config.schema !== undefined && 'file' in config.schema) {
      const r = schemaFromFile(config.schema);
      if (!r.ok) issues.push({ path: `${at}.schema.file`, message: r.message });
    }
    return issues;
  },
  create(config, env): Policy {
    return new GraphQLPolicy(config, env);
  },
});

class GraphQLPolicy implements Policy {
  readonly bodyBufferBytes: number;
  private readonly checker: Checker;
  // Persisted operations: wired in when merged (helper branch).
  private readonly persisted:
    | {
        resolve(
          p: GraphQLParams,
        ): Promise<
          | { ok: true; params: GraphQLParams; rewritten: boolean }
          | { ok: false; code: import('../../errors.js').ErrorCode; message?: string }
        >;
        close(): void;
      }
    | undefined = undefined;
  private readonly schema;

  constructor(
    private readonly config: GraphQLPolicyConfig,
    env: PolicyEnv,
  ) {
    this.bodyBufferBytes = parseSize(config.maxBody);
    this.schema = schemaHolder(config.schema, env.log);
    this.checker = new Checker({
      config,
      maxDocumentBytes: parseSize(config.maxDocumentBytes),
      cache: new ParseCache({ maxEntries: config.parseCache.maxEntries, maxBytes: parseSize(config.parseCache.maxSize) }),
      model: costModel(config.cost),
      schema: () => this.schema.current(),
    });
  }

  access(ctx: RequestContext): AccessVerdict | Promise<AccessVerdict> {
    const method = ctx.method;
    if (method === 'POST') return undefined; // read with its body
    if (method !== 'GET' && method !== 'HEAD') return refusal(ctx, { code: 'GW_METHOD_NOT_ALLOWED' }, ALLOW);
    if (!this.config.get)
      return refusal(ctx, { code: 'GW_METHOD_NOT_ALLOWED', message: 'this route takes GraphQL with POST only' }, { allow: 'POST' });
    const read = paramsFromQuery(ctx.query);
    if (!read.ok) return refusal(ctx, { code: 'GW_GRAPHQL_BAD_REQUEST', message: read.message });
    return this.run(ctx, read.params, (params) => {
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
    const inUrl = urlParameter(ctx.query);
    if (inUrl !== undefined)
      return refusal(ctx, {
        code: 'GW_GRAPHQL_BAD_REQUEST',
        message: `a GraphQL POST carries its parameters in its body, not in the URL (${inUrl})`,
      });
    const read = paramsFromBody(body.body, body.contentType);
    if (!read.ok) return refusal(ctx, { code: 'GW_GRAPHQL_BAD_REQUEST', message: read.message });
    return this.run(ctx, read.params, (params) => {
      body.body = paramsBody(params);
    }) as Verdict | Promise<Verdict>;
  }

  /** Resolves a persisted operation, checks it, and records it; `rewrite` puts a resolved document in what is forwarded. */
  private run(ctx: RequestContext, params: GraphQLParams, rewrite: (p: GraphQLParams) => void): AccessVerdict | Promise<AccessVerdict> {
    if (this.persisted === undefined) return this.finish(ctx, params);
    return this.persisted.resolve(params).then((r) => {
      if (!r.ok) return refusal(ctx, { code: r.code, message: r.message });
      if (r.rewritten) rewrite(r.params);
      return this.finish(ctx, r.params);
    });
  }

  private finish(ctx: RequestContext, params: GraphQLParams): AccessVerdict {
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
  const accept = ctx.req.headers.accept;
  return graphqlRefusal(r.code, accept, r.message ?? ERRORS[r.code].message, r.details, headers);
}

/** The first GraphQL parameter the raw query string carries, if any. */
function urlParameter(raw: string): string | undefined {
  if (raw === '') return undefined;
  const q = new URLSearchParams(raw);
  return ['query', 'operationName', 'variables', 'extensions'].find((k) => q.has(k));
}

/** The query string with a resolved persisted operation's parameters in place of the client's. */
function queryOf(raw: string, params: GraphQLParams): string {
  const q = new URLSearchParams(raw);
  q.set('query', params.query ?? '');
  if (params.extensions === undefined) q.delete('extensions');
  else q.set('extensions', JSON.stringify(params.extensions));
  return q.toString();
}
