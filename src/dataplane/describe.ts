// Human- and machine-readable views of a compiled plan: the route table in match order (CLI
// `routes`, admin GET /routes), services (GET /services), and `explain` for one request.
import type { Plan, CompiledRoute } from './plan.js';
import type { HostPattern } from '../config/host-pattern.js';
import { BodyView } from './body-match.js';
import { canonicalizePath, encodePathForUpstream } from './canonical-path.js';
import { normalizeHost } from '../config/host-pattern.js';
import { ANY_BUT_TRACE, hostMatches, precedence, PRECEDENCE, type RouterEntry } from './router.js';

export interface RouteRow {
  order: number;
  route: string;
  priority: number;
  host: string;
  path: string;
  methods: string[] | null;
  headers: string[];
  query: string[];
  /** `match.body` conditions. */
  body: string[];
  service: string;
  rewrite: string | null;
  /** `redirectHttps`: plain-HTTP requests get 308 to this scheme and port ("https", "https:8443"); null when off. */
  redirectHttps: string | null;
  /** WebSocket upgrades are proxied. */
  websocket: boolean;
  policies: string[];
}

const hostText = (h: HostPattern | null) => (h === null ? '*' : 'exact' in h ? h.exact : '*' + h.suffix);

function rewriteText(plan: Plan, route: CompiledRoute): string | null {
  const cfg = plan.config.routes[route.matcher.index]!;
  if (cfg.rewrite !== undefined) return `rewrite ${cfg.rewrite}`;
  if (cfg.stripPrefix !== undefined) return `stripPrefix ${cfg.stripPrefix}`;
  return null;
}

function row(plan: Plan, e: RouterEntry<CompiledRoute>): RouteRow {
  const m = e.route.matcher;
  return {
    order: e.rank + 1,
    route: e.route.name,
    priority: m.priority,
    host: hostText(e.host),
    path: e.path.source,
    methods: m.methods ? [...m.methods] : null,
    headers: m.headers.map((h) => h.describe),
    query: m.query.map((q) => q.describe),
    body: m.body.map((b) => b.describe),
    service: e.route.service?.name ?? `(${e.route.kind})`,
    rewrite: rewriteText(plan, e.route),
    redirectHttps: e.route.redirectHttps === undefined ? null : `https${e.route.redirectHttps.portSuffix}`,
    websocket: e.route.websocket !== undefined,
    policies: e.route.policies.map((p) => `${p.type}${p.scope === 'global' ? ' (global)' : ''}`),
  };
}

export function routeTable(plan: Plan): RouteRow[] {
  return plan.router.entries.map((e) => row(plan, e));
}

export function formatRouteTable(rows: RouteRow[]): string {
  const head = ['#', 'ROUTE', 'PRIO', 'HOST', 'PATH', 'METHODS', 'CONDITIONS', 'SERVICE', 'REWRITE', 'OPTIONS', 'POLICIES'];
  const body = rows.map((r) => [
    String(r.order),
    r.route,
    String(r.priority),
    r.host,
    r.path,
    r.methods?.join(',') ?? '*',
    [...r.headers.map((h) => 'header ' + h), ...r.query.map((q) => 'query ' + q), ...r.body].join('; ') || '-',
    r.service,
    r.rewrite ?? '-',
    [r.redirectHttps !== null ? `redirect ${r.redirectHttps}` : '', r.websocket ? 'websocket' : ''].filter(Boolean).join(', ') || '-',
    r.policies.join(', ') || '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return (
    [head, ...body]
      .map((cols) =>
        cols
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function describeServices(plan: Plan): Record<string, unknown>[] {
  return [...plan.services.values()].map((s) => ({
    name: s.name,
    targets: s.targets.map((t) => ({ url: t.url, weight: t.weight })),
    timeouts: s.timeouts,
    routes: plan.routes.filter((r) => r.service === s).map((r) => r.name),
  }));
}

export interface Explanation {
  matched: boolean;
  status: number;
  reason: string;
  canonicalPath?: string;
  route?: RouteRow;
  params?: Record<string, string>;
  upstream?: { target: string; path: string; host: string };
  /** The route's chain in the order it runs (by ordering class, then globals first, then listing order). */
  policies?: { type: string; scope: string; order: string; phases: readonly string[] }[];
  allow?: string[];
  /** Every route whose path matched, in match order: the winner and why each other one lost. */
  candidates?: Candidate[];
}

export interface Candidate {
  order: number;
  route: string;
  host: string;
  path: string;
  outcome: 'matched' | 'lost';
  reason: string;
}

/** What the gateway would do with a request, without sending anything anywhere. */
export function explain(plan: Plan, method: string, url: string, headers: Record<string, string>, data?: string): Explanation {
  let u: URL;
  try {
    u = new URL(url, 'http://localhost');
  } catch {
    return { matched: false, status: 400, reason: `"${url}" is not a URL or path` };
  }
  const host = headers.host ?? (/^https?:\/\//i.test(url) ? u.host : '');
  const rawPath = /^https?:\/\//i.test(url) ? u.pathname : url.split('?')[0]!;
  const query = u.search.slice(1);
  const allowSemicolon = plan.config.server.allowSemicolonInPath;
  const path = canonicalizePath(rawPath, allowSemicolon);
  if (path === undefined) return { matched: false, status: 400, reason: `path "${rawPath}" is refused (GW_BAD_PATH)` };
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  lower.host = host;
  const verb = method.toUpperCase();
  // `match.body` conditions are tested against `data` (--data), as the gateway would test the body it read.
  const body = new BodyView(data === undefined ? undefined : Buffer.from(data), lower['content-type'] ?? '', verb, query);
  const found = plan.router.find(verb, normalizeHost(host), path, { headers: lower }, query, body);
  const winner = found !== undefined && 'match' in found ? found.match.entry : undefined;
  const candidates = plan.router.pathCandidates(path).map((e) => candidate(e, winner, verb, normalizeHost(host), lower, query, body));
  if (found === undefined)
    return { matched: false, status: 404, canonicalPath: path, reason: 'no route matches (GW_ROUTE_NOT_FOUND)', candidates };
  if ('needsBody' in found) throw new Error('unreachable: explain routes with the body given');
  if ('unreadableBody' in found)
    return {
      matched: false,
      status: 413,
      canonicalPath: path,
      reason: 'a route routing by the GraphQL operation could win, but the operation is too large to read (GW_PAYLOAD_TOO_LARGE)',
      candidates,
    };
  if ('allow' in found) {
    return {
      matched: false,
      status: 405,
      canonicalPath: path,
      allow: found.allow,
      reason: `the path matches, the method does not (allowed: ${found.allow.join(', ')})`,
      candidates,
    };
  }
  const { entry, params, rest } = found.match;
  const route = entry.route;
  const r = row(plan, entry);
  const why = [
    r.priority !== 0 ? `priority ${r.priority}` : null,
    `host ${r.host === '*' ? 'any' : r.host}`,
    `path ${r.path} (${entry.path.kind})`,
    r.methods ? `method in ${r.methods.join(',')}` : null,
    ...r.headers.map((h) => `header ${h}`),
    ...r.query.map((q) => `query ${q}`),
    ...r.body,
  ]
    .filter(Boolean)
    .join(', ');
  const service = route.service;
  const target = service === undefined ? undefined : (service.targets.find((t) => t.weight > 0) ?? service.targets[0]!);
  const rewritten = route.rewrite ? route.rewrite(path, params, rest) : path;
  const upstreamPath =
    target === undefined ? '' : target.basePath + encodePathForUpstream(rewritten, allowSemicolon) + (query ? `?${query}` : '');
  return {
    matched: true,
    status: 200,
    reason: `route "${route.name}" (match order #${r.order}): ${why}`,
    canonicalPath: path,
    route: r,
    params,
    // A route that answers by itself (`compose`) has no one upstream.
    ...(target === undefined
      ? {}
      : { upstream: { target: target.url, path: upstreamPath, host: route.preserveHost ? host : target.host } }),
    policies: route.policies.map((p) => ({ type: p.type, scope: p.scope, order: p.order, phases: p.phases })),
    candidates,
  };
}

type Entry = RouterEntry<CompiledRoute>;

/** One route whose path matched: did it win, and if not, why not (the first condition it fails, or the rule that ranks it below the winner). */
function candidate(
  e: Entry,
  winner: Entry | undefined,
  method: string,
  host: string,
  headers: Record<string, string>,
  query: string,
  body: BodyView,
): Candidate {
  const base = { order: e.rank + 1, route: e.route.name, host: hostText(e.host), path: e.path.source };
  if (e === winner) return { ...base, outcome: 'matched', reason: 'matched: first in match order whose conditions all hold' };
  const failed = failedCondition(e, method, host, headers, query) ?? failedBody(e, body);
  if (failed !== undefined) return { ...base, outcome: 'lost', reason: failed };
  return { ...base, outcome: 'lost', reason: winner ? rankedBelow(e, winner) : 'not chosen' };
}

function failedCondition(e: Entry, method: string, host: string, headers: Record<string, string>, rawQuery: string): string | undefined {
  if (!hostMatches(e.host, host)) return `host: "${host || '(none)'}" is not ${hostText(e.host)}`;
  const m = e.route.matcher;
  for (const h of m.headers) if (!h.test(headers[h.name])) return `header: ${h.describe} does not hold`;
  const query = new URLSearchParams(rawQuery);
  for (const q of m.query) if (!q.test(query.get(q.name))) return `query: ${q.describe} does not hold`;
  if (m.methods ? !m.methods.has(method) : method === 'TRACE')
    return `method: ${method} is not in ${(m.methods ? [...m.methods] : ANY_BUT_TRACE).join(',')}`;
  return undefined;
}

function failedBody(e: Entry, body: BodyView): string | undefined {
  for (const b of e.route.matcher.body) {
    if (!b.test(body)) return `${b.describe} does not hold${body.bytes === undefined ? ' (no body given: --data)' : ''}`;
  }
  return undefined;
}

const KIND_TEXT = { exact: 'an exact path', param: 'a path with parameters', wildcard: 'a prefix path' } as const;

function rankedBelow(e: Entry, w: Entry): string {
  const mine = precedence(e);
  const theirs = precedence(w);
  const at = mine.findIndex((x, i) => x !== theirs[i]);
  const by = `its conditions hold, but route "${w.route.name}" (#${w.rank + 1}) comes first on ${PRECEDENCE[at] ?? 'path order within the route'}`;
  switch (PRECEDENCE[at]) {
    case 'priority':
      return `${by}: priority ${e.route.matcher.priority} < ${w.route.matcher.priority}`;
    case 'host':
      return `${by}: host ${hostText(e.host)} is less specific than ${hostText(w.host)}`;
    case 'path kind':
      return `${by}: ${KIND_TEXT[e.path.kind]} (${e.path.source}) ranks below ${KIND_TEXT[w.path.kind]} (${w.path.source})`;
    case 'literal prefix length':
      return `${by}: its literal prefix is shorter than that of ${w.path.source}`;
    case 'config order':
      return `${by}: it is later in the config`;
    default:
      return by;
  }
}
