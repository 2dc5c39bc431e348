// A stored version that differs from the one an instance serves in its consumers only (an admin
// consumer edit on any instance) is applied as a consumer change, as a file-mode consumer edit is:
// nothing recompiled. PostgreSQL compares the two versions' consumers (store.ts consumerChanges)
// and hands over only the changed ones; here they become the change the instance checks.
import { createHash } from 'node:crypto';
import { Consumer, type ConsumerConfig } from '../config/consumer-schema.js';
import type { ConsumerDelta } from '../identity/registry.js';
import type { ConsumerChanges } from './store.js';

export interface StoredConsumerChange {
  delta: ConsumerDelta;
  /** Whether `ids` (the served list after `delta`, in order) are the stored list's ids in its order. */
  sameOrder(ids: readonly string[]): boolean;
}

/**
 * The consumer change that `changes` makes, undefined when a changed consumer is not one the
 * schema takes (then the version is validated whole, which says why).
 */
export function consumerDelta(changes: ConsumerChanges): StoredConsumerChange | undefined {
  const upsert: ConsumerConfig[] = [];
  for (const raw of changes.changed) {
    const parsed = Consumer.safeParse(raw);
    if (!parsed.success) return undefined;
    upsert.push(parsed.data);
  }
  return {
    delta: { upsert, remove: changes.removed },
    // Ids are letters, digits and ".", "_", "@", ":", "-": joined by newlines they are unambiguous.
    sameOrder: (ids) => createHash('md5').update(ids.join('\n')).digest('hex') === changes.orderDigest,
  };
}
