// Header and query-parameter edits: remove, rename, set, add (only when absent) and append (one
// more value), applied in that order (Kong's request-transformer order, with set for replace).
// Header names are compared case-insensitively; query parameter names exactly, after decoding.
// Untouched query parameters are forwarded byte for byte as the client encoded them.
import { z } from 'zod';
import type { HeaderList, RequestContext } from '../types.js';
import { removeHeader } from '../../dataplane/header-list.js';
import { HeaderName } from '../header-fields.js';
import { asText, compileValue, type Value } from './template.js';

const Templated = z.union([z.string(), z.number(), z.boolean()]);

function editsSchema(name: z.ZodType<string>, what: string) {
  return z
    .strictObject({
      remove: z
        .array(name)
        .default([])
        .meta({ description: `${what} to remove.` }),
      rename: z
        .record(name, name)
        .default({})
        .meta({ description: `${what} to rename (old: new); the value moves, several fields too.` }),
      set: z
        .record(name, Templated)
        .default({})
        .meta({ description: `${what} to set, replacing any (a value or template).` }),
      add: z
        .record(name, Templated)
        .default({})
        .meta({ description: `${what} to add when absent.` }),
      append: z
        .record(name, Templated)
        .default({})
        .meta({ description: `${what} to add one more value to.` }),
    })
    .optional();
}

// The message's framing and the connection are the gateway's: an edit of these could make the
// service or the client read the body differently (request smuggling, a truncated response).
const OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);
const OWNED_MESSAGE = 'the gateway sets this header itself (framing and connection headers cannot be edited)';

export const HeaderEdits = editsSchema(HeaderName, 'Headers');
export const QueryEdits = editsSchema(z.string().min(1), 'Query parameters');
export type FieldEditsConfig = NonNullable<z.output<typeof HeaderEdits>>;

/** Template errors in a set of edits (and, for headers, edits of the gateway's own), with their config paths. */
export function editIssues(edits: FieldEditsConfig | undefined, at: string, headers: boolean): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  if (edits === undefined) return issues;
  if (headers) {
    const owned = (name: string) => OWNED.has(name.toLowerCase());
    edits.remove.forEach((n, i) => owned(n) && issues.push({ path: `${at}.remove[${i}]`, message: OWNED_MESSAGE }));
    for (const [from, to] of Object.entries(edits.rename))
      if (owned(from) || owned(to)) issues.push({ path: `${at}.rename.${from}`, message: OWNED_MESSAGE });
    for (const op of ['set', 'add', 'append'] as const)
      for (const k of Object.keys(edits[op])) if (owned(k)) issues.push({ path: `${at}.${op}.${k}`, message: OWNED_MESSAGE });
  }
  for (const op of ['set', 'add', 'append'] as const)
    for (const [k, v] of Object.entries(edits[op])) {
      const c = compileValue(v);
      if (typeof c === 'string') issues.push({ path: `${at}.${op}.${k}`, message: c });
    }
  return issues;
}

type Pairs = [string, Value][];
interface Compiled {
  remove: string[];
  rename: [string, string][];
  set: Pairs;
  add: Pairs;
  append: Pairs;
}

function compile(edits: FieldEditsConfig, lower: boolean): Compiled | undefined {
  const n = (s: string) => (lower ? s.toLowerCase() : s);
  const pairs = (rec: Record<string, unknown>): Pairs => Object.entries(rec).map(([k, v]) => [n(k), compileValue(v) as Value]);
  const c: Compiled = {
    remove: edits.remove.map(n),
    rename: Object.entries(edits.rename).map(([a, b]) => [n(a), n(b)]),
    set: pairs(edits.set),
    add: pairs(edits.add),
    append: pairs(edits.append),
  };
  const empty = c.remove.length + c.rename.length + c.set.length + c.add.length + c.append.length === 0;
  return empty ? undefined : c;
}

// What node refuses to send in a header value (a template may carry a claim or a query value).
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const UNSENDABLE = /[\0-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

/** A header value from a template, or undefined when it is missing or cannot be sent. */
function headerText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const text = asText(v);
  return UNSENDABLE.test(text) ? undefined : text;
}

/** Header edits, compiled; undefined when there are none. */
export function compileHeaderEdits(edits: FieldEditsConfig | undefined): ((ctx: RequestContext, h: HeaderList) => void) | undefined {
  const c = edits && compile(edits, true);
  if (c === undefined) return undefined;
  return (ctx, headers) => {
    for (const name of c.remove) removeHeader(headers, name);
    for (const [from, to] of c.rename) {
      const values: string[] = [];
      for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === from) values.push(headers[i + 1]!);
      if (values.length === 0) continue;
      removeHeader(headers, from);
      for (const v of values) headers.push(to, v);
    }
    for (const [name, value] of c.set) {
      const text = headerText(value(ctx));
      if (text === undefined) continue;
      removeHeader(headers, name);
      headers.push(name, text);
    }
    for (const [name, value] of c.add) {
      if (headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === name)) continue;
      const text = headerText(value(ctx));
      if (text !== undefined) headers.push(name, text);
    }
    for (const [name, value] of c.append) {
      const text = headerText(value(ctx));
      if (text !== undefined) headers.push(name, text);
    }
  };
}

/** One query parameter: its decoded name, and the raw `name=value` text as it came (or was made). */
interface Param {
  name: string;
  raw: string;
}

function parseQuery(query: string): Param[] {
  if (query === '') return [];
  return query.split('&').map((raw) => {
    const eq = raw.indexOf('=');
    const rawName = eq < 0 ? raw : raw.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName; // a malformed escape: compared as written
    }
    return { name, raw };
  });
}

function param(name: string, value: string): Param {
  return { name, raw: `${encodeURIComponent(name)}=${encodeURIComponent(value)}` };
}

/** Query edits, compiled: they rewrite `ctx.query` (what is forwarded); undefined when there are none. */
export function compileQueryEdits(edits: FieldEditsConfig | undefined): ((ctx: RequestContext) => void) | undefined {
  const c = edits && compile(edits, false);
  if (c === undefined) return undefined;
  return (ctx) => {
    // Templates read the query as the client sent it.
    const values = (pairs: Pairs) => pairs.map(([name, v]) => [name, v(ctx)] as const);
    const set = values(c.set);
    const add = values(c.add);
    const append = values(c.append);
    let params = parseQuery(ctx.query);
    if (c.remove.length > 0) params = params.filter((p) => !c.remove.includes(p.name));
    for (const [from, to] of c.rename)
      params = params.map((p) => (p.name === from ? { name: to, raw: to.length === 0 ? p.raw : renamed(p.raw, to) } : p));
    for (const [name, v] of set) {
      if (v === undefined) continue;
      params = params.filter((p) => p.name !== name);
      params.push(param(name, asText(v)));
    }
    for (const [name, v] of add) if (v !== undefined && !params.some((p) => p.name === name)) params.push(param(name, asText(v)));
    for (const [name, v] of append) if (v !== undefined) params.push(param(name, asText(v)));
    ctx.query = params.map((p) => p.raw).join('&');
  };
}

function renamed(raw: string, to: string): string {
  const eq = raw.indexOf('=');
  return encodeURIComponent(to) + (eq < 0 ? '' : raw.slice(eq));
}
