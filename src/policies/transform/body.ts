// JSON body edits, applied in this order: unwrap, remove, rename, keep, set, add, reshape, wrap.
// Paths are parsed and templates and the JSONata expression compiled once per config (`validate`
// reports what does not parse, with its config path); per request only the edits run.
import { z } from 'zod';
import type { RequestContext } from '../types.js';
import { compileValue, type Value } from './template.js';
import { compileRename, keepOnly, parsePath, remove, renameIssue, write, type Path } from './paths.js';
import { compileReshape, reshapeIssue, type Reshape } from './reshape.js';
import { DURATION_PATTERN, SIZE_PATTERN, parseDuration } from '../../config/units.js';

const FieldPath = z.string().min(1);

export const BodyEdits = z
  .strictObject({
    unwrap: FieldPath.optional().meta({ description: 'Replace the body with the value at this path (e.g. "data").' }),
    remove: z.array(FieldPath).default([]).meta({ description: 'Paths to remove ("password", "items[*].internal").' }),
    rename: z
      .record(FieldPath, FieldPath)
      .default({})
      .meta({ description: 'Paths to move (old: new; "items[*].qty": "items[*].quantity").' }),
    keep: z.array(FieldPath).optional().meta({ description: 'Keep only these paths (an allow-list); everything else is dropped.' }),
    set: z
      .record(FieldPath, z.unknown())
      .default({})
      .meta({ description: 'Paths to set to a value or template ("{{consumer.id}}", "{{query.limit | number}}").' }),
    add: z.record(FieldPath, z.unknown()).default({}).meta({ description: 'Paths to set only where absent.' }),
    reshape: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'A JSONata expression for a full reshape (input: the body after the edits above).' }),
    reshapeTimeout: z
      .union([z.number().int().positive(), z.string().regex(DURATION_PATTERN)])
      .default('250ms')
      .meta({ description: 'The longest one reshape may run.' }),
    maxOutput: z
      .union([z.number().int().positive(), z.string().regex(SIZE_PATTERN)])
      .optional()
      .meta({ description: 'The largest body the edits may produce (default: twice maxBody).' }),
    wrap: FieldPath.optional().meta({ description: 'Put the result under this key ({"data": …}).' }),
    requireJson: z
      .boolean()
      .default(false)
      .meta({ description: 'A body that is not JSON (by Content-Type) is refused rather than passed through unchanged.' }),
  })
  .optional();
export type BodyEditsConfig = NonNullable<z.output<typeof BodyEdits>>;

type Issue = { path: string; message: string };

/** What does not parse or compile in the body edits, with config paths. */
export function bodyIssues(edits: BodyEditsConfig | undefined, at: string): Issue[] {
  const issues: Issue[] = [];
  if (edits === undefined) return issues;
  const path = (text: string, where: string): Path | undefined => {
    const p = parsePath(text);
    if (typeof p === 'string') issues.push({ path: where, message: p });
    return typeof p === 'string' ? undefined : p;
  };
  for (const key of ['unwrap', 'wrap'] as const) {
    const text = edits[key];
    if (text === undefined) continue;
    const p = path(text, `${at}.${key}`);
    if (p?.some((s) => !('key' in s)))
      issues.push({ path: `${at}.${key}`, message: 'wrap and unwrap take field names (no [index] or [*])' });
  }
  edits.remove.forEach((p, i) => path(p, `${at}.remove[${i}]`));
  edits.keep?.forEach((p, i) => path(p, `${at}.keep[${i}]`));
  for (const [from, to] of Object.entries(edits.rename)) {
    const a = path(from, `${at}.rename.${from}`);
    const b = path(to, `${at}.rename.${from}`);
    const why = a && b && renameIssue(a, b);
    if (why) issues.push({ path: `${at}.rename.${from}`, message: why });
  }
  for (const op of ['set', 'add'] as const)
    for (const [p, v] of Object.entries(edits[op])) {
      path(p, `${at}.${op}.${p}`);
      const c = compileValue(v);
      if (typeof c === 'string') issues.push({ path: `${at}.${op}.${p}`, message: c });
    }
  if (edits.reshape !== undefined) {
    const why = reshapeIssue(edits.reshape);
    if (why) issues.push({ path: `${at}.reshape`, message: why });
  }
  return issues;
}

/** The edits compiled: the new document from the parsed body (edited in place or replaced). */
export type BodyEditor = (doc: unknown, ctx: RequestContext, bindings: () => Record<string, unknown>) => unknown;

const must = (text: string): Path => parsePath(text) as Path; // validated: it parses

/** Body edits compiled (the config was validated); undefined when there are none. */
export function compileBodyEdits(edits: BodyEditsConfig | undefined): BodyEditor | undefined {
  if (edits === undefined) return undefined;
  const unwrap = edits.unwrap === undefined ? undefined : must(edits.unwrap);
  const wrap = edits.wrap === undefined ? undefined : must(edits.wrap);
  const removes = edits.remove.map(must);
  const renames = Object.entries(edits.rename).map(([a, b]) => compileRename(must(a), must(b)));
  const keep = edits.keep?.map(must);
  const sets = Object.entries(edits.set).map(([p, v]) => [must(p), compileValue(v) as Value] as const);
  const adds = Object.entries(edits.add).map(([p, v]) => [must(p), compileValue(v) as Value] as const);
  const reshape: Reshape | undefined =
    edits.reshape === undefined ? undefined : compileReshape(edits.reshape, { timeout: parseDuration(edits.reshapeTimeout) });
  const count = removes.length + renames.length + sets.length + adds.length;
  if (count === 0 && unwrap === undefined && wrap === undefined && keep === undefined && reshape === undefined) return undefined;

  const edit = (input: unknown, ctx: RequestContext): unknown => {
    let doc = input;
    if (unwrap !== undefined) doc = valueAt(doc, unwrap) ?? null;
    for (const p of removes) remove(doc, p);
    for (const r of renames) r(doc);
    if (keep !== undefined) doc = keepOnly(doc, keep);
    for (const [p, v] of sets) {
      const x = v(ctx);
      if (x !== undefined) write(doc, p, () => x, false);
    }
    for (const [p, v] of adds) {
      const x = v(ctx);
      if (x !== undefined) write(doc, p, () => x, true);
    }
    return doc;
  };
  const wrapped = (doc: unknown): unknown => (wrap === undefined ? doc : nest(wrap, doc));
  if (reshape === undefined) return (doc, ctx) => wrapped(edit(doc, ctx));
  return async (doc, ctx, bindings) => {
    const out = await reshape(edit(doc, ctx), bindings());
    return wrapped(out === undefined ? null : out);
  };
}

function valueAt(doc: unknown, path: Path): unknown {
  let v = doc;
  for (const s of path) {
    if (!('key' in s) || typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, s.key)) return undefined;
    v = (v as Record<string, unknown>)[s.key];
  }
  return v;
}

function nest(path: Path, value: unknown): unknown {
  let out = value;
  for (let i = path.length - 1; i >= 0; i--) out = { [(path[i] as { key: string }).key]: out };
  return out;
}

/** What a reshape expression sees besides its input: $params, $query, $headers, $consumer, $claims, $requestId. */
export function requestBindings(ctx: RequestContext): Record<string, unknown> {
  const query: Record<string, string> = {};
  if (ctx.query !== '') for (const [k, v] of new URLSearchParams(ctx.query)) if (!Object.hasOwn(query, k)) query[k] = v;
  const id = ctx.identity;
  return {
    params: { ...ctx.params },
    query,
    headers: { ...ctx.req.headers },
    consumer: id === undefined ? undefined : { id: id.consumerId, username: id.username, groups: [...id.groups], plan: id.plan },
    claims: id?.claims,
    requestId: ctx.requestId,
  };
}
