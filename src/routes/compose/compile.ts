// A composite route's calls compiled once per config: their templates into closures, the order
// the templates impose (a call that reads `{{calls.user…}}` runs after `user`; a cycle is a config
// error), and each call's shaping of its body (extract, pick, remove, rename).
import { CONNECTION_FIELDS } from '../fields.js';
import type { ComposeCallConfig, ComposeConfig } from '../../config/compose-schema.js';
import { parseDuration, parseSize } from '../../config/units.js';
import { IDENTITY_HEADERS } from '../../identity/identity-headers.js';
import { compileString, compileValue, type Roots, type Value } from '../../policies/transform/template.js';
import { compileRename, getAll, keepOnly, parsePath, remove, renameIssue, type Path } from '../../policies/transform/paths.js';

/** The template roots a composite adds: the client's JSON body, earlier calls, the forEach element. */
export const COMPOSE_ROOTS = ['body', 'calls', 'item', 'index'] as const;

/**
 * Headers a call may not set: the message's framing and the connection (as for request-transformer
 * edits: src/policies/transform/fields.ts), and Host and the forwarding headers the gateway adds to
 * every call — a second copy, from a template a client fills, would be the one many services read —
 * Accept-Encoding (identity: the answer is parsed), and the identity headers, which a service trusts
 * to be the gateway's (a template such as {{headers.x-consumer-id}} would forward the client's copy).
 */
export const GATEWAY_HEADERS: ReadonlySet<string> = new Set([
  ...CONNECTION_FIELDS,
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'via',
  'x-request-id',
  'accept-encoding', // identity: the answer is parsed (run.ts)
  // The identity the route's authentication set (a service trusts these: identity-headers.ts).
  ...IDENTITY_HEADERS,
]);

export interface CompiledCall {
  readonly name: string;
  readonly service: string;
  readonly method: string;
  /** The calls whose results it reads (it runs after them). */
  readonly deps: readonly string[];
  readonly path: Value;
  readonly query: readonly (readonly [string, Value])[];
  readonly headers: readonly (readonly [string, Value])[];
  readonly body: Value | undefined;
  readonly forEach: Value | undefined;
  readonly timeoutMs: number;
  readonly required: boolean;
  readonly maxFanOut: number;
  readonly nonJson: 'error' | 'string';
  /** Its body as it goes into the answer. */
  readonly shape: (body: unknown) => unknown;
  readonly key: string;
  readonly flatten: boolean;
  readonly hidden: boolean;
  /** It reads the client's body ({{body…}}). */
  readonly readsBody: boolean;
}

export interface CompiledCompose {
  readonly calls: readonly CompiledCall[];
  readonly output: 'group' | 'merge';
  readonly status: number;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly maxRequestBodyBytes: number;
  readonly maxCalls: number;
  readonly partialField: string | false;
  readonly readsBody: boolean;
}

export interface ComposeIssue {
  /** Under the route's `compose` ("calls[1].path"). */
  path: string;
  message: string;
}

/** Compiles, or lists every issue found (the validator reports them; `create` throws on the first). */
export function compileCompose(cfg: ComposeConfig, services: ReadonlySet<string> | undefined): CompiledCompose | ComposeIssue[] {
  const issues: ComposeIssue[] = [];
  const names = new Map<string, number>();
  cfg.calls.forEach((c, i) => {
    if (names.has(c.name))
      issues.push({ path: `calls[${i}].name`, message: `duplicate call name "${c.name}" (also calls[${names.get(c.name)}])` });
    else names.set(c.name, i);
  });
  const calls = cfg.calls.map((c, i) => compileCall(c, `calls[${i}]`, names, services, issues));
  issues.push(...cycleIssues(calls), ...keyIssues(cfg, calls));
  if (issues.length > 0) return issues;
  return {
    calls,
    output: cfg.output,
    status: cfg.status,
    timeoutMs: parseDuration(cfg.timeout),
    maxBodyBytes: parseSize(cfg.maxBody),
    maxRequestBodyBytes: parseSize(cfg.maxRequestBody),
    maxCalls: cfg.maxCalls,
    partialField: cfg.partialField,
    readsBody: calls.some((c) => c.readsBody),
  };
}

function compileCall(
  c: ComposeCallConfig,
  at: string,
  names: ReadonlyMap<string, number>,
  services: ReadonlySet<string> | undefined,
  issues: ComposeIssue[],
): CompiledCall {
  const deps = new Set<string>();
  let readsBody = false;
  const problem = (where: string, message: string) => issues.push({ path: `${at}${where}`, message });
  const rootsAt = (where: string): Roots => ({
    names: new Set(COMPOSE_ROOTS),
    used: (root, rest) => {
      if (root === 'body') readsBody = true;
      if (root !== 'calls') return;
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)?.[0];
      if (name === undefined) return problem(where, `{{calls${rest ? '.' + rest : ''}}}: name a call ({{calls.<name>.body…}})`);
      if (!names.has(name)) return problem(where, `{{calls.${rest}}}: there is no call "${name}"`);
      if (name === c.name) return problem(where, `{{calls.${rest}}}: a call cannot read its own result`);
      const after = rest.slice(name.length);
      if (!/^(\.(body|status|headers)([.[].*)?)?$/.test(after))
        return problem(where, `{{calls.${rest}}}: a call's result has body, status and headers`);
      deps.add(name);
    },
  });
  const compiled = (where: string, v: Value | string): Value => {
    if (typeof v === 'string') {
      problem(where, v);
      return () => undefined;
    }
    return v;
  };
  if (services !== undefined && !services.has(c.service))
    problem('.service', `service "${c.service}" is not defined${services.size ? ` (defined: ${[...services].join(', ')})` : ''}`);
  const path = compiled('.path', compileString(c.path, rootsAt('.path'), encodeSegment));
  const query = Object.entries(c.query).map(([k, v]) => [k, compiled(`.query.${k}`, compileString(v, rootsAt(`.query.${k}`)))] as const);
  for (const k of Object.keys(c.headers))
    if (GATEWAY_HEADERS.has(k.toLowerCase()))
      problem(
        `.headers.${k}`,
        'the gateway sets this header itself (framing, connection, Host, forwarding, identity headers, Accept-Encoding)',
      );
  const headers = Object.entries(c.headers).map(
    ([k, v]) => [k.toLowerCase(), compiled(`.headers.${k}`, compileString(v, rootsAt(`.headers.${k}`)))] as const,
  );
  const body = c.body === undefined ? undefined : compiled('.body', compileValue(c.body, rootsAt('.body')));
  let forEach: Value | undefined;
  if (c.forEach !== undefined) {
    if (c.forEach.includes('{{')) problem('.forEach', 'a forEach is a path without braces: "calls.orders.body.items"');
    else forEach = compiled('.forEach', compileString(`{{${c.forEach}}}`, rootsAt('.forEach')));
  }
  if (c.flatten && c.forEach === undefined) problem('.flatten', 'flatten joins the answers of a forEach: this call has none');
  const method = c.method.toUpperCase();
  if (c.body !== undefined && (method === 'GET' || method === 'HEAD')) problem('.body', `a ${method} call sends no body`);
  return {
    name: c.name,
    service: c.service,
    method,
    deps: [...deps],
    path,
    query,
    headers,
    body,
    forEach,
    timeoutMs: c.timeout === undefined ? 0 : parseDuration(c.timeout),
    required: c.required,
    maxFanOut: c.maxFanOut,
    nonJson: c.nonJson,
    shape: compileShape(c, at, issues),
    key: c.group ?? c.name,
    flatten: c.flatten,
    hidden: c.hidden,
    readsBody,
  };
}

/**
 * Marks a value of a path that is missing or empty (encodeURIComponent writes a NUL as %00, so a
 * raw one is only ever this mark): "/users/{{query.id}}" without an id must not become "/users/",
 * another resource (the whole collection). run.ts fails such a call unsent.
 */
export const MISSING_SEGMENT = '\0';

/** A value put into a path is one segment: "/" and "?" are encoded, and so is a lone "." or "..". */
export function encodeSegment(text: string): string {
  if (text === '') return MISSING_SEGMENT;
  const e = encodeURIComponent(text);
  return e === '.' ? '%2E' : e === '..' ? '%2E%2E' : e;
}

function compileShape(c: ComposeCallConfig, at: string, issues: ComposeIssue[]): (body: unknown) => unknown {
  const path = (where: string, text: string): Path | undefined => {
    const p = parsePath(text);
    if (typeof p === 'string') {
      issues.push({ path: `${at}${where}`, message: p });
      return undefined;
    }
    return p;
  };
  const extract = c.extract === undefined ? undefined : path('.extract', c.extract);
  const pick = c.pick?.map((p, i) => path(`.pick[${i}]`, p)).filter((p): p is Path => p !== undefined);
  const removed = c.remove?.map((p, i) => path(`.remove[${i}]`, p)).filter((p): p is Path => p !== undefined) ?? [];
  const renames: ((doc: unknown) => void)[] = [];
  for (const [from, to] of Object.entries(c.rename ?? {})) {
    const f = path(`.rename.${from}`, from);
    const t = path(`.rename.${from}`, to);
    if (f === undefined || t === undefined) continue;
    const issue = renameIssue(f, t);
    if (issue !== undefined) issues.push({ path: `${at}.rename.${from}`, message: issue });
    else renames.push(compileRename(f, t));
  }
  if (extract === undefined && pick === undefined && removed.length === 0 && renames.length === 0) return (b) => b;
  return (body) => {
    let b = body;
    if (extract !== undefined) b = getAll(b, extract)[0] ?? null;
    if (pick !== undefined) b = keepOnly(b, pick);
    for (const r of removed) remove(b, r);
    for (const r of renames) r(b);
    return b;
  };
}

/** Two calls' answers under one key, or one under the partial answer's field: one would hide the other. */
function keyIssues(cfg: ComposeConfig, calls: readonly CompiledCall[]): ComposeIssue[] {
  const issues: ComposeIssue[] = [];
  const owner = new Map<string, string>();
  if (cfg.partialField !== false) owner.set(cfg.partialField, 'partialField');
  calls.forEach((c, i) => {
    if (c.hidden) return;
    const taken = owner.get(c.key);
    if (taken !== undefined)
      issues.push({
        path: `calls[${i}]${c.key === c.name ? '.name' : '.group'}`,
        message: `its answer goes under "${c.key}", which ${taken === 'partialField' ? 'is the partialField' : `call "${taken}" uses`}`,
      });
    else owner.set(c.key, c.name);
  });
  return issues;
}

/** A cycle among the calls' dependencies, reported at the first call of each. */
function cycleIssues(calls: readonly CompiledCall[]): ComposeIssue[] {
  const byName = new Map(calls.map((c, i) => [c.name, { c, i }]));
  const state = new Map<string, 'visiting' | 'done'>();
  const issues: ComposeIssue[] = [];
  const visit = (name: string, trail: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      issues.push({ path: `calls[${byName.get(name)!.i}]`, message: `the calls depend on each other in a cycle: ${cycle.join(' → ')}` });
      return;
    }
    state.set(name, 'visiting');
    for (const d of byName.get(name)?.c.deps ?? []) visit(d, [...trail, name]);
    state.set(name, 'done');
  };
  for (const c of calls) visit(c.name, []);
  return issues;
}
