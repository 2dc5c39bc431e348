// Field paths into a JSON document, as transformer operations write them: `user.name`,
// `items[0].sku`, `items[*].price` (every element), `['odd key']`, with an optional leading `$.`
// (the form `match.body` uses). Parsed once per config; applied per request without allocation
// beyond what the edit itself makes.

/** A step: an object key, an array index, or `*` (every element of an array). */
export type Step = { key: string } | { index: number } | { each: true };
export type Path = readonly Step[];

const NAME = /^[A-Za-z_$@#][A-Za-z0-9_$@#-]*/;
const MAX_STEPS = 32;

/** A parsed path, or why the text is not one. */
export function parsePath(text: string): Path | string {
  const steps: Step[] = [];
  let i = text.startsWith('$.') ? 2 : text.startsWith('$[') ? 1 : 0;
  let first = true;
  while (i < text.length) {
    const rest = text.slice(i);
    if (rest.startsWith('[')) {
      const index = /^\[(\d{1,6})\]/.exec(rest);
      const quoted = index === null ? /^\['((?:[^'\\]|\\.)*)'\]/.exec(rest) : null;
      if (rest.startsWith('[*]')) steps.push({ each: true });
      else if (index !== null) steps.push({ index: Number(index[1]) });
      else if (quoted !== null) steps.push({ key: quoted[1]!.replace(/\\(.)/g, '$1') });
      else return `"${text}": expected [index], [*] or ['name'] at ${i}`;
      i += rest.startsWith('[*]') ? 3 : (index ?? quoted)![0].length;
    } else {
      const dot = first ? 0 : 1;
      if (!first && !rest.startsWith('.')) return `"${text}": expected .name, [index], [*] or ['name'] at ${i}`;
      const m = NAME.exec(rest.slice(dot));
      if (m === null) return `"${text}": a field name is expected at ${i + dot}`;
      steps.push({ key: m[0] });
      i += dot + m[0].length;
    }
    first = false;
  }
  if (steps.length === 0) return `"${text}": a path names a field, not the whole body`;
  if (steps.some((s) => 'key' in s && FORBIDDEN.has(s.key)))
    return `"${text}": __proto__, constructor and prototype are not field names here`;
  if (steps.length > MAX_STEPS) return `"${text}": at most ${MAX_STEPS} steps`;
  return steps;
}

type Container = Record<string, unknown> | unknown[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Keys that would reach Object.prototype through a plain object: never read or written.
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Calls `visit(parent, last)` for each place the path's parent steps reach in `doc` (several
 * with `[*]`). With `create`, missing objects on the way are made (arrays are never made: an
 * index or `[*]` into nothing reaches nothing).
 */
function reach(doc: unknown, path: Path, create: boolean, visit: (parent: Container, last: Step) => void): void {
  const walk = (node: unknown, depth: number): void => {
    const step = path[depth]!;
    if (depth === path.length - 1) {
      if ('key' in step ? isObject(node) : Array.isArray(node)) visit(node as Container, step);
      return;
    }
    if ('each' in step) {
      if (Array.isArray(node)) for (const el of node) walk(el, depth + 1);
      return;
    }
    let next: unknown;
    if ('index' in step) {
      if (!Array.isArray(node)) return;
      next = node[step.index];
    } else {
      if (!isObject(node) || FORBIDDEN.has(step.key)) return;
      next = Object.hasOwn(node, step.key) ? node[step.key] : undefined;
      if (next === undefined && create && 'key' in path[depth + 1]!) node[step.key] = next = {};
    }
    if (next !== undefined) walk(next, depth + 1);
  };
  walk(doc, 0);
}

/** The values at the path (one per place a `[*]` reaches). */
export function getAll(doc: unknown, path: Path): unknown[] {
  const out: unknown[] = [];
  reach(doc, path, false, (parent, last) => {
    const v = read(parent, last);
    if (v !== undefined) out.push(...('each' in last ? (v as unknown[]) : [v]));
  });
  return out;
}

function read(parent: Container, last: Step): unknown {
  if ('each' in last) return parent;
  if ('index' in last) return (parent as unknown[])[last.index];
  return !FORBIDDEN.has(last.key) && Object.hasOwn(parent, last.key) ? (parent as Record<string, unknown>)[last.key] : undefined;
}

/**
 * Writes `value` at the path (objects on the way are created). `onlyIfAbsent`: leaves a field that
 * is there. `[*]` last writes every element; an index past the end of an array is not written.
 */
export function write(doc: unknown, path: Path, value: () => unknown, onlyIfAbsent: boolean): void {
  reach(doc, path, true, (parent, last) => {
    if ('each' in last) {
      const arr = parent as unknown[];
      for (let i = 0; i < arr.length; i++) if (!onlyIfAbsent || arr[i] === undefined) arr[i] = value();
    } else if ('index' in last) {
      const arr = parent as unknown[];
      if (last.index < arr.length && (!onlyIfAbsent || arr[last.index] === undefined)) arr[last.index] = value();
    } else if (!FORBIDDEN.has(last.key)) {
      const obj = parent as Record<string, unknown>;
      if (!onlyIfAbsent || !Object.hasOwn(obj, last.key)) obj[last.key] = value();
    }
  });
}

/** Removes the field (or array element) at the path; `[*]` last empties the array. */
export function remove(doc: unknown, path: Path): void {
  reach(doc, path, false, (parent, last) => {
    if ('each' in last) (parent as unknown[]).length = 0;
    else if ('index' in last) {
      if (last.index < (parent as unknown[]).length) (parent as unknown[]).splice(last.index, 1);
    } else if (!FORBIDDEN.has(last.key)) Reflect.deleteProperty(parent, last.key);
  });
}

/**
 * A rename, compiled: moves the value at `from` to `to`. Inside arrays (`items[*].qty` →
 * `items[*].quantity`) the paths share their `[*]` prefix and the elements are paired one by one;
 * a `[*]` the two do not share is refused when the config is validated (`renameIssue`).
 */
export function compileRename(from: Path, to: Path): (doc: unknown) => void {
  const shared = sharedEachPrefix(from, to);
  if (shared === 0) return (doc) => renameIn(doc, from, to);
  const prefix = from.slice(0, shared);
  const fromRest = from.slice(shared);
  const toRest = to.slice(shared);
  return (doc) =>
    reach(doc, prefix, false, (parent, last) => {
      for (const el of read(parent, last) as unknown[]) renameIn(el, fromRest, toRest);
    });
}

function renameIn(doc: unknown, from: Path, to: Path): void {
  if (from.length === 0 || to.length === 0) return;
  let found: unknown;
  reach(doc, from, false, (parent, last) => {
    if (found === undefined) found = read(parent, last);
  });
  if (found === undefined) return;
  remove(doc, from);
  write(doc, to, () => found, false);
}

function sameStep(a: Step, b: Step): boolean {
  if ('key' in a) return 'key' in b && a.key === b.key;
  if ('index' in a) return 'index' in b && a.index === b.index;
  return 'each' in b;
}

/** How many leading steps the two paths share, up to and including their last shared `[*]`. */
function sharedEachPrefix(a: Path, b: Path): number {
  let lastEach = 0;
  for (let i = 0; i < Math.min(a.length, b.length) && sameStep(a[i]!, b[i]!); i++) if ('each' in a[i]!) lastEach = i + 1;
  return lastEach;
}

/** Why a rename cannot be done (a `[*]` the two paths do not share, or one ends in `[*]`), or undefined. */
export function renameIssue(from: Path, to: Path): string | undefined {
  const shared = sharedEachPrefix(from, to);
  const rest = [...from.slice(shared), ...to.slice(shared)];
  if (rest.some((s) => 'each' in s))
    return 'a rename pairs array elements only under a shared prefix ending in [*] (items[*].a → items[*].b)';
  if (from.length === shared || to.length === shared) return 'a rename moves a field, not every element of an array';
  return undefined;
}

/**
 * A copy with only the listed paths kept (and the objects and arrays on their way). `[*]` keeps
 * the listed fields of every element.
 */
export function keepOnly(doc: unknown, paths: readonly Path[]): unknown {
  if (!isObject(doc) && !Array.isArray(doc)) return doc;
  const copy = (node: unknown, rest: readonly Path[]): unknown => {
    if (rest.some((p) => p.length === 0)) return node; // a kept path ends here: the whole value
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      const each = rest.filter((p) => 'each' in p[0]!).map((p) => p.slice(1));
      for (let i = 0; i < node.length; i++) {
        const mine = rest.filter((p) => 'index' in p[0]! && p[0].index === i).map((p) => p.slice(1));
        const sub = [...each, ...mine];
        if (sub.length > 0) out.push(copy(node[i], sub));
      }
      return out;
    }
    if (!isObject(node)) return node;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(node)) {
      if (FORBIDDEN.has(key)) continue;
      const sub = rest.filter((p) => 'key' in p[0]! && p[0].key === key).map((p) => p.slice(1));
      if (sub.length > 0) out[key] = copy(node[key], sub);
    }
    return out;
  };
  return copy(doc, paths);
}
