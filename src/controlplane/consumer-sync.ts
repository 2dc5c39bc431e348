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
    if (served !== undefined && canonicalConsumer(served) === canonical(raw)) {
      if (current.consumers[i] !== served) sameList = false;
      continue;
    }
    sameList = false;
    const parsed = Consumer.safeParse(raw);
    if (!parsed.success) return whole;
    upsert.push(parsed.data);
  }
  const { consumers: _theirs, ...otherStored } = stored;
  const otherServed = storedPart(withoutConsumers(current));
  if (!sameDocument(otherStored, otherServed)) return { kind: 'whole', consumers: sameList ? current.consumers : undefined };
  const remove = current.consumers.filter((c) => !seen.has(c.id)).map((c) => c.id);
  return { kind: 'consumers', delta: { upsert, remove }, order };
}

function withoutConsumers(config: GatehouseConfig): Record<string, unknown> {
  const { consumers: _c, ...rest } = config;
  return rest;
}
