// Values a transformer writes: literals, or templates over the request — `{{params.id}}`,
// `{{query.page}}`, `{{headers.x-tenant}}`, `{{consumer.id}}`, `{{consumer.username}}`,
// `{{consumer.groups}}`, `{{consumer.plan}}`, `{{claims.sub}}` (nested: `{{claims.org.id}}`),
// `{{requestId}}`, `{{route}}`, `{{method}}`, `{{path}}`, `{{clientIp}}`, `{{now}}` (ISO 8601),
// `{{nowMs}}`. A string that is exactly one template keeps the value's type (groups stay an array,
// a numeric claim a number); `| number`, `| boolean`, `| string` and `| json` convert. Compiled
// once per config into closures; nothing is evaluated as code.
//
// A user of templates may add roots of its own (`Roots`): a composite route reads `{{body.x}}`,
// `{{calls.user.body.id}}` and `{{item.id}}` from a scope it passes per evaluation.
import type { RequestContext } from '../types.js';
import { getAll, parsePath } from './paths.js';
import { IDENTITY_HEADERS } from '../../identity/identity-headers.js';

/** A compiled value: undefined means "missing" (the field or header is then left out). */
export type Value = (ctx: RequestContext, scope?: Scope) => unknown;

/** Values of the extra roots, by root name, for one evaluation. */
export type Scope = Readonly<Record<string, unknown>>;

/** Extra template roots: `{{root}}` or `{{root.path.to[0].field}}` read `scope[root]`. */
export interface Roots {
  readonly names: ReadonlySet<string>;
  /** Told of each use (root, and the path's text after it): a composite orders its calls by them. */
  readonly used?: (root: string, rest: string) => void;
}

const TEMPLATE = /\{\{\s*([^{}|]+?)\s*(?:\|\s*([a-z]+)\s*)?\}\}/g;
const FILTERS = ['number', 'boolean', 'string', 'json'] as const;
type Filter = (typeof FILTERS)[number];

/** A compiled value, or why the text is not a valid template. */
export function compileValue(value: unknown, roots?: Roots): Value | string {
  if (typeof value === 'string') return compileString(value, roots);
  if (Array.isArray(value)) {
    const parts: Value[] = [];
    for (const v of value) {
      const c = compileValue(v, roots);
      if (typeof c === 'string') return c;
      parts.push(c);
    }
    return parts.every(isLiteral) ? literal(value) : (ctx, scope) => parts.map((p) => p(ctx, scope) ?? null);
  }
  if (typeof value === 'object' && value !== null) {
    const entries: [string, Value][] = [];
    for (const [k, v] of Object.entries(value)) {
      const c = compileValue(v, roots);
      if (typeof c === 'string') return c;
      entries.push([k, c]);
    }
    if (entries.every(([, v]) => isLiteral(v))) return literal(value);
    return (ctx, scope) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of entries) {
        const x = v(ctx, scope);
        if (x !== undefined) out[k] = x;
      }
      return out;
    };
  }
  return literal(value);
}

const LITERAL = Symbol('literal');
function literal(value: unknown): Value {
  // A fresh copy each time: a later operation may change what it wrote (objects, arrays).
  const json = JSON.stringify(value);
  const fn: Value = typeof value === 'object' && value !== null ? () => JSON.parse(json) as unknown : () => value;
  (fn as unknown as Record<symbol, boolean>)[LITERAL] = true;
  return fn;
}
function isLiteral(v: Value): boolean {
  return (v as unknown as Record<symbol, boolean | undefined>)[LITERAL] === true;
}

/** A template string compiled; as a string result, a missing part is "". */
export function compileString(text: string, roots?: Roots, encode?: (text: string) => string): Value | string {
  const parts: (string | Value)[] = [];
  let last = 0;
  for (const m of text.matchAll(TEMPLATE)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const source = compileSource(m[1]!, roots);
    if (typeof source === 'string') return source;
    const filter = m[2];
    if (filter !== undefined && !(FILTERS as readonly string[]).includes(filter))
      return `unknown filter "| ${filter}" (use ${FILTERS.join(', ')})`;
    parts.push(filter === undefined ? source : withFilter(source, filter as Filter));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  const rest = parts.filter((p): p is string => typeof p === 'string').join('');
  if (rest.includes('{{') || rest.includes('}}')) return `"${text}": an unclosed or malformed {{ template }}`;
  if (parts.length === 0) return literal('');
  if (parts.length === 1 && typeof parts[0] !== 'string' && encode === undefined) return parts[0]!;
  if (parts.every((p) => typeof p === 'string')) return literal(text);
  if (encode !== undefined)
    return (ctx, scope) => {
      let out = '';
      for (const p of parts) out += typeof p === 'string' ? p : encode(asText(p(ctx, scope)));
      return out;
    };
  return (ctx, scope) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : asText(p(ctx, scope));
    return out;
  };
}

/** A value as text: a header value, or a part of a longer string. */
export function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(asText).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

function withFilter(source: Value, filter: Filter): Value {
  switch (filter) {
    case 'string':
      return (ctx, scope) => {
        const v = source(ctx, scope);
        return v === undefined ? undefined : asText(v);
      };
    case 'number':
      return (ctx, scope) => {
        const v = source(ctx, scope);
        if (typeof v === 'number') return v;
        if (typeof v !== 'string' || v.trim() === '') return undefined;
        const n = Number(v);
        return Number.isFinite(n) ? n : undefined;
      };
    case 'boolean':
      return (ctx, scope) => {
        const v = source(ctx, scope);
        if (typeof v === 'boolean') return v;
        if (v === 'true' || v === '1') return true;
        if (v === 'false' || v === '0') return false;
        return undefined;
      };
    case 'json':
      return (ctx, scope) => {
        const v = source(ctx, scope);
        if (typeof v !== 'string') return v;
        try {
          return JSON.parse(v) as unknown;
        } catch {
          return undefined;
        }
      };
  }
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function compileSource(expr: string, roots: Roots | undefined): Value | string {
  const dot = expr.search(/[.[]/);
  const head = dot < 0 ? expr : expr.slice(0, dot);
  const name = dot < 0 ? '' : expr.slice(expr[dot] === '.' ? dot + 1 : dot);
  if (roots?.names.has(head) === true) return scopeSource(head, name, expr, roots);
  const needsName = (what: string): string | undefined => (name === '' ? `{{${expr}}}: name the ${what} ({{${head}.name}})` : undefined);
  switch (head) {
    case 'params':
      return needsName('route parameter') ?? ((ctx) => ctx.params[name]);
    case 'query':
      return needsName('query parameter') ?? ((ctx) => queryValue(ctx, name));
    case 'headers': {
      const lower = name.toLowerCase();
      // The client's copy of an identity field is never the verified one: a template must not pass it on.
      if ((IDENTITY_HEADERS as readonly string[]).includes(lower))
        return `{{${expr}}}: the client's own ${lower} is not the verified identity (use {{consumer.id}}, {{consumer.username}}, {{consumer.groups}})`;
      return needsName('header') ?? ((ctx) => headerValue(ctx, lower));
    }
    case 'consumer':
      switch (name) {
        case 'id':
          return (ctx) => ctx.identity?.consumerId;
        case 'username':
          return (ctx) => ctx.identity?.username;
        case 'groups':
          return (ctx) => (ctx.identity === undefined ? undefined : [...ctx.identity.groups]);
        case 'plan':
          return (ctx) => ctx.identity?.plan;
        default:
          return `{{${expr}}}: the consumer has id, username, groups and plan`;
      }
    case 'claims': {
      if (name === '') return needsName('claim')!;
      const steps = name.split('.');
      if (steps.some((s) => s === '' || FORBIDDEN.has(s))) return `{{${expr}}}: not a claim name`;
      return (ctx) => {
        let v: unknown = ctx.identity?.claims;
        for (const s of steps) {
          if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, s)) return undefined;
          v = (v as Record<string, unknown>)[s];
        }
        return v;
      };
    }
  }
  if (name !== '') return `{{${expr}}}: unknown template value`;
  switch (expr) {
    case 'requestId':
      return (ctx) => ctx.requestId;
    case 'route':
      return (ctx) => ctx.routeName;
    case 'method':
      return (ctx) => ctx.method;
    case 'path':
      return (ctx) => ctx.path;
    case 'clientIp':
      return (ctx) => ctx.clientIp;
    case 'now':
      return () => new Date().toISOString();
    case 'nowMs':
      return () => Date.now();
  }
  return `{{${expr}}}: unknown template value (params.*, query.*, headers.*, consumer.*, claims.*, requestId, route, method, path, clientIp, now, nowMs)`;
}

/** `{{root}}` or `{{root.a.b[0]}}`: a value of the evaluation's scope. */
function scopeSource(root: string, rest: string, expr: string, roots: Roots): Value | string {
  roots.used?.(root, rest);
  if (rest === '') return (_ctx, scope) => scope?.[root];
  const path = parsePath(rest);
  if (typeof path === 'string') return `{{${expr}}}: ${path}`;
  if (path.some((s) => 'each' in s)) return `{{${expr}}}: [*] selects many values; a template reads one`;
  return (_ctx, scope) => {
    const v = scope?.[root];
    return v === undefined ? undefined : getAll(v, path)[0];
  };
}

/** The first value of a query parameter as the client sent it (after a policy's edits), decoded. */
function queryValue(ctx: RequestContext, name: string): string | undefined {
  if (ctx.query === '') return undefined;
  return new URLSearchParams(ctx.query).get(name) ?? undefined;
}

/** A request header as the client sent it; several fields of one name joined with ", ". */
function headerValue(ctx: RequestContext, lower: string): string | undefined {
  const v = ctx.req.headers[lower];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}
