// Route matching. Every (route, host pattern, path pattern) triple is one entry with a fixed rank,
// decided at compile time by the documented precedence (docs/routing.md):
//   1. higher `priority`;  2. exact host, then longer "*." suffix, then no host;
//   3. exact path, then params, then prefix "/*";  4. longer literal prefix;  5. config order.
// A segment trie finds every entry whose path pattern matches; the lowest-ranked one whose host,
// method, headers and query also match wins. The rank order is also what `gatehouse routes` prints.
import type { HostPattern } from '../config/host-pattern.js';
import type { PathPattern } from '../config/path-pattern.js';
import type { ValueMatcherConfig } from '../config/schema.js';
import { ANY_BODY, type BodyMatcher, type BodyView } from './body-match.js';

export interface ValueMatcher {
  name: string;
  describe: string;
  test(value: string | null | undefined): boolean;
}

export function compileValueMatcher(name: string, spec: ValueMatcherConfig): ValueMatcher {
  if (typeof spec === 'string') return { name, describe: `${name} = ${JSON.stringify(spec)}`, test: (v) => v === spec };
  if ('regex' in spec) {
    const re = new RegExp(spec.regex);
    return { name, describe: `${name} ~ /${spec.regex}/`, test: (v) => v != null && re.test(v) };
  }
  return spec.present
    ? { name, describe: `${name} present`, test: (v) => v != null }
    : { name, describe: `${name} absent`, test: (v) => v == null };
}

export interface RouteMatcher {
  /** Config order. */
  index: number;
  priority: number;
  hosts: HostPattern[] | null;
  methods: ReadonlySet<string> | null;
  paths: PathPattern[];
  headers: ValueMatcher[];
  query: ValueMatcher[];
  /** `match.body` conditions (body-match.ts); tested only with the body read. */
  body: BodyMatcher[];
}

export interface HeaderSource {
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface RouterEntry<R> {
  rank: number;
  route: R;
  host: HostPattern | null;
  path: PathPattern;
  paramPositions: number[];
}

export interface RouteMatch<R> {
  entry: RouterEntry<R>;
  params: Record<string, string>;
  /** What "/*" matched, without a leading slash ("" when the prefix itself was requested). */
  rest: string;
}

export type FindResult<R> =
  | { match: RouteMatch<R> }
  | { allow: string[] } // the path matched, the method did not: 405
  | { needsBody: true } // a route with body conditions could win: route again with the body
  | { unreadableBody: true } // a route whose body conditions could not be decided (a bound) could win: 413
  | undefined;

interface TrieNode<R> {
  literal: Map<string, TrieNode<R>>;
  param: TrieNode<R> | undefined;
  exact: RouterEntry<R>[];
  prefix: RouterEntry<R>[];
}

const newNode = <R>(): TrieNode<R> => ({ literal: new Map(), param: undefined, exact: [], prefix: [] });

function hostScore(h: HostPattern | null): number {
  if (h === null) return 0;
  return 'exact' in h ? 1_000_000 : 1000 + h.suffix.length;
}
const KIND_SCORE = { exact: 2, param: 1, wildcard: 0 } as const;

/** What decides match order, most significant first: the lower tuple wins. */
export const PRECEDENCE = ['priority', 'host', 'path kind', 'literal prefix length', 'config order'] as const;

export function precedence(e: Pick<RouterEntry<{ matcher: RouteMatcher }>, 'route' | 'host' | 'path'>): number[] {
  return [-e.route.matcher.priority, -hostScore(e.host), -KIND_SCORE[e.path.kind], -e.path.literalPrefixLength, e.route.matcher.index];
}

export class Router<R extends { matcher: RouteMatcher }> {
  readonly entries: RouterEntry<R>[];
  private readonly root: TrieNode<R> = newNode();

  constructor(routes: readonly R[]) {
    const entries: Omit<RouterEntry<R>, 'rank'>[] = [];
    for (const route of routes) {
      const m = route.matcher;
      for (const host of m.hosts ?? [null]) {
        for (const path of m.paths) {
          const paramPositions: number[] = [];
          path.segments.forEach((s, i) => {
            if ('param' in s) paramPositions.push(i);
          });
          entries.push({ route, host, path, paramPositions });
        }
      }
    }
    entries.sort((a, b) => {
      const x = precedence(a),
        y = precedence(b);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return a.route.matcher.paths.indexOf(a.path) - b.route.matcher.paths.indexOf(b.path);
    });
    this.entries = entries.map((e, rank) => ({ ...e, rank }));
    for (const e of this.entries) this.insert(e);
  }

  private insert(e: RouterEntry<R>): void {
    let node = this.root;
    for (const seg of e.path.segments) {
      if ('param' in seg) node = node.param ??= newNode();
      else {
        let next = node.literal.get(seg.literal);
        if (!next) node.literal.set(seg.literal, (next = newNode()));
        node = next;
      }
    }
    (e.path.wildcard ? node.prefix : node.exact).push(e);
  }

  /** Collects every entry whose path pattern matches, in no particular order. */
  private collect(node: TrieNode<R>, segs: string[], depth: number, out: RouterEntry<R>[]): void {
    if (node.prefix.length) for (const e of node.prefix) out.push(e);
    if (depth === segs.length) {
      if (node.exact.length) for (const e of node.exact) out.push(e);
      return;
    }
    const seg = segs[depth]!;
    const lit = node.literal.get(seg);
    if (lit) this.collect(lit, segs, depth + 1, out);
    if (node.param && seg !== '') this.collect(node.param, segs, depth + 1, out);
  }

  /** Every entry whose path pattern matches `path`, in match order (for `explain`, not the hot path). */
  pathCandidates(path: string): RouterEntry<R>[] {
    const out: RouterEntry<R>[] = [];
    this.collect(this.root, path.slice(1).split('/'), 0, out);
    return out.sort((a, b) => a.rank - b.rank);
  }

  /**
   * `source.headers` is read only when a candidate has header conditions: node builds
   * `req.headers` lazily, and most routes never need it.
   */
  find(method: string, host: string, path: string, source: HeaderSource, rawQuery: string, body?: BodyView): FindResult<R> {
    const segs = path.slice(1).split('/');
    const candidates: RouterEntry<R>[] = [];
    this.collect(this.root, segs, 0, candidates);
    let best: RouterEntry<R> | undefined;
    let allow: Set<string> | undefined;
    let query: URLSearchParams | undefined;
    let needsBody = Infinity; // the best rank among candidates that wait for the body
    let unreadable = Infinity; // the best rank among candidates whose body conditions could not be decided
    for (const e of candidates) {
      if (best && e.rank > best.rank) continue;
      if (!hostMatches(e.host, host)) continue;
      const m = e.route.matcher;
      if (m.headers.length) {
        const headers = source.headers;
        if (!m.headers.every((h) => h.test(headerValue(headers[h.name])))) continue;
      }
      if (m.query.length) {
        query ??= new URLSearchParams(rawQuery);
        const q = query;
        if (!m.query.every((h) => h.test(q.get(h.name)))) continue;
      }
      if (m.methods ? !m.methods.has(method) : method === 'TRACE') {
        // TRACE echoes the request (cookies, auth headers) back: only a route naming it gets it.
        allow ??= new Set();
        for (const x of m.methods ?? ANY_BUT_TRACE) allow.add(x);
        continue;
      }
      if (m.body.length) {
        if (body === undefined) {
          needsBody = Math.min(needsBody, e.rank);
          continue;
        }
        if (body !== ANY_BODY && !m.body.every((c) => c.test(body))) {
          if (m.body.some((c) => c.unreadable?.(body) === true)) unreadable = Math.min(unreadable, e.rank);
          continue;
        }
      }
      best = e;
    }
    if (needsBody < (best?.rank ?? Infinity)) return { needsBody: true };
    if (unreadable < (best?.rank ?? Infinity)) return { unreadableBody: true };
    if (!best) return allow ? { allow: [...allow].sort() } : undefined;
    const names = best.path.params;
    let params = NO_PARAMS;
    if (names.length > 0) {
      params = {};
      for (let i = 0; i < names.length; i++) params[names[i]!] = segs[best.paramPositions[i]!]!;
    }
    return { match: { entry: best, params, rest: best.path.wildcard ? restOf(path, best.path.segments.length) : '' } };
  }
}

/** The params of a path without any: shared, never written (a route's rewrite only reads them). */
const NO_PARAMS: Record<string, string> = Object.freeze({});

/** What a wildcard matched: the path after its first `n` segments, without the slash before it. */
function restOf(path: string, n: number): string {
  let at = 0; // the slash before segment i
  for (let i = 0; i < n; i++) {
    at = path.indexOf('/', at + 1);
    if (at === -1) return '';
  }
  return path.slice(at + 1);
}

/** The Allow list of a route without `methods` (it takes any method but TRACE). */
export const ANY_BUT_TRACE = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

export function hostMatches(p: HostPattern | null, host: string): boolean {
  if (p === null) return true;
  if ('exact' in p) return p.exact === host;
  return host.length > p.suffix.length && host.endsWith(p.suffix);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
