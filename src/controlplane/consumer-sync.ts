// How a stored version differs from the config an instance serves, read for what can skip a whole
// reload: a version that changes consumers only (an admin consumer edit on any instance) is applied
// as a consumer change, as a file-mode consumer edit is (nothing recompiled); a version that keeps
// the consumers as they are (a route edit) is validated with the instance's own consumer list, which
// validation knows valid (validation/validate.ts), so 100,000 consumers are not checked again.
import { Consumer, type ConsumerConfig } from '../config/consumer-schema.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { ConsumerDelta } from '../identity/registry.js';
import { canonical } from '../runtime/consumer-edit.js';
import { sameDocument, storedPart, withoutBootKeys, type StoredDocument } from './document.js';

export type VersionChange =
  /** Only consumers differ: `delta` makes the served list into the stored one, whose ids are in `order`. */
  | { kind: 'consumers'; delta: ConsumerDelta; order: string[] }
  /** Something else differs; `consumers` is the served list when the stored one is the same, else undefined. */
  | { kind: 'whole'; consumers: readonly ConsumerConfig[] | undefined };

/** A consumer as canonical JSON (keys sorted, undefined left out), remembered per consumer object. */
const canonicalOf = new WeakMap<object, string>();

function canonicalConsumer(c: object): string {
  let s = canonicalOf.get(c);
  if (s === undefined) canonicalOf.set(c, (s = canonical(c)));
  return s;
}

/**
 * A served consumer as PostgreSQL writes it out (jsonb orders keys shorter first, then by their
 * bytes), remembered per consumer: a stored consumer read back is compared with it by its
 * JSON.stringify, done natively, where sorting each one's keys in JavaScript would take seconds
 * over 100,000. Unequal texts are compared canonically after (a key like "10" is ordered
 * otherwise by JavaScript), so this only ever makes the comparison faster.
 */
const jsonbTextOf = new WeakMap<object, string>();

function jsonbText(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : jsonbText(x))).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${jsonbText(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function sameConsumer(served: object, stored: unknown): boolean {
  let text = jsonbTextOf.get(served);
  if (text === undefined) jsonbTextOf.set(served, (text = jsonbText(served)));
  return JSON.stringify(stored) === text || canonicalConsumer(served) === canonical(stored);
}

/**
 * What `doc` (a stored document) changes in `current` (the config served): see VersionChange. Any
 * doubt (a stored consumer the schema refuses, an id twice) answers `whole`, which validates all.
 */
export function versionChange(current: GatehouseConfig, doc: unknown): VersionChange {
  try {
    return compare(current, doc);
  } catch {
    // A stored document nested deeper than can be compared: validation refuses it, with its reason.
    return { kind: 'whole', consumers: undefined };
  }
}

function compare(current: GatehouseConfig, doc: unknown): VersionChange {
  const whole: VersionChange = { kind: 'whole', consumers: undefined };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return whole;
  const stored = withoutBootKeys(doc as StoredDocument);
  const list = stored.consumers;
  if (!Array.isArray(list)) return whole;
  const byId = new Map(current.consumers.map((c) => [c.id, c]));
  const order: string[] = [];
  const upsert: ConsumerConfig[] = [];
  const seen = new Set<string>();
  let sameList = list.length === current.consumers.length;
  for (let i = 0; i < list.length; i++) {
    const raw: unknown = list[i];
    if (typeof raw !== 'object' || raw === null) return whole;
    const id = (raw as { id?: unknown }).id;
    if (typeof id !== 'string' || seen.has(id)) return whole;
    seen.add(id);
    order.push(id);
    const served = byId.get(id);
    if (served !== undefined && sameConsumer(served, raw)) {
      if (current.consumers[i] !== served) sameList = false;
      continue;
    }
    sameList = false;
    const parsed = Consumer.safeParse(raw);
    if (!parsed.success) return whole;
    upsert.push(parsed.data);
  }
  const otherStored = withoutConsumers(stored);
  const otherServed = storedPart(withoutConsumers(current));
  if (!sameDocument(otherStored, otherServed)) return { kind: 'whole', consumers: sameList ? current.consumers : undefined };
  const remove = current.consumers.filter((c) => !seen.has(c.id)).map((c) => c.id);
  return { kind: 'consumers', delta: { upsert, remove }, order };
}

function withoutConsumers(config: GatehouseConfig | StoredDocument): StoredDocument {
  return Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'consumers'));
}
