// A multi-tenant routing guard, as a Gatehouse policy plugin.
//
// Every request must name a tenant from an allow list: from a request header, or (safer) from a
// claim of a token an authentication policy (jwt, oauth2-introspection, auth) verified earlier in
// the chain. An allowed tenant is forwarded upstream as a header the client cannot forge, with
// optional per-tenant headers (e.g. a shard or a database name); anything else is answered
// 403 with the gateway's JSON error, and never reaches the upstream.
//
// Load it with `plugins: [gatehouse-plugin-tenant]` (or a path to dist/index.js) in gatehouse.yaml.
import { definePolicy, z, type HeaderList, type RequestContext } from 'gatehouse';

/** An HTTP header name (an RFC 9110 token), written in lower case as node reports them. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9a-z-]+$/, "a lower-case header name (letters, digits and !#$%&'*+.^_`|~-)");
const tenantId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a tenant id: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

const schema = z.strictObject({
  type: z.literal('tenant'),
  header: headerName.default('x-tenant').meta({ description: 'The request header that names the tenant (ignored when `claim` is set).' }),
  claim: z.string().min(1).optional().meta({
    description:
      "Read the tenant from this claim of the verified caller's token instead of a header (needs an authentication policy before it).",
  }),
  allow: z.array(tenantId).min(1).meta({ description: 'The tenants that may pass.' }),
  forwardAs: headerName
    .default('x-tenant-id')
    .meta({ description: 'The header the upstream receives the tenant in (any such header from the client is dropped).' }),
  upstreamHeaders: z
    .record(tenantId, z.record(headerName, z.string()))
    .default({})
    .meta({ description: 'Extra headers sent upstream for a tenant, by tenant id.' }),
});

/** This policy's key in the per-request `ctx.locals`: the tenant the access phase let through. */
const LOCAL = 'gatehouse-plugin-tenant';

export default definePolicy({
  type: 'tenant',
  description:
    'Requires a tenant id from an allow list (a header, or a claim of a verified token), forwards it upstream, and answers 403 otherwise.',
  schema,
  phases: ['access', 'upstreamRequest'],
  // After authentication (so that `ctx.identity` is set), before limits and transforms.
  order: 'authorise',
  example: { allow: ['acme'] },
  // What the schema cannot see: references between fields. Issues are `path: message`, at `at`.
  validate(config, _ctx, at) {
    return Object.keys(config.upstreamHeaders)
      .filter((id) => !config.allow.includes(id))
      .map((id) => ({ path: `${at}.upstreamHeaders.${id}`, message: `tenant "${id}" is not in allow` }));
  },
  create(config, env) {
    const allow = new Set(config.allow);
    // Built once per config: per request only a lookup.
    const extra = new Map(Object.entries(config.upstreamHeaders).map(([id, headers]) => [id, Object.entries(headers).flat()]));
    const tenantOf = (ctx: RequestContext): unknown => {
      if (config.claim !== undefined) return ctx.identity?.claims?.[config.claim];
      return ctx.req.headers[config.header];
    };
    return {
      access(ctx) {
        const tenant = tenantOf(ctx);
        if (typeof tenant !== 'string' || !allow.has(tenant)) {
          env.log.debug(
            { requestId: ctx.requestId, route: ctx.routeName, tenant: typeof tenant === 'string' ? tenant : undefined },
            'tenant refused',
          );
          const message = tenant === undefined ? 'This request names no tenant.' : 'This tenant is not allowed here.';
          return { status: 403, code: 'GW_FORBIDDEN', message };
        }
        ctx.locals.set(LOCAL, tenant);
        return undefined;
      },
      upstreamRequest(ctx, headers) {
        const tenant = ctx.locals.get(LOCAL) as string;
        const own = extra.get(tenant) ?? [];
        // What the upstream trusts comes from here only: the client's own copies are dropped.
        dropHeader(headers, config.forwardAs);
        for (let i = 0; i < own.length; i += 2) dropHeader(headers, own[i]!);
        headers.push(config.forwardAs, tenant, ...own);
      },
    };
  },
});

/** Removes every `name` header (lower case) from a flat [name, value, …] list, in place. */
function dropHeader(headers: HeaderList, name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i]!.toLowerCase() === name) headers.splice(i, 2);
  }
}
