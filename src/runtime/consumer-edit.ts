// A change of some consumers, checked without validating the whole config again. With 100,000
// consumers a whole-config validation takes seconds (every consumer through the schema, every key
// hashed); a consumer edit checks only what it changes, against an index of what the others hold
// (ids, usernames, credential ids, API-key digests, Basic usernames, certificate names). The
// checks and their messages are those of validate-identity.ts and the section hooks, so an edit is
// refused exactly when the whole config would be.
import type { ConsumerConfig } from '../config/consumer-schema.js';
import type { GatehouseConfig } from '../config/schema.js';
import { credentialId, type ConsumerDelta } from '../identity/registry.js';
import { apiKeyProblem, credentialDigest } from '../identity/secrets.js';
import { consumerIssues } from '../identity/validate-identity.js';
import { consumerReferenceIssues, type ConfigIssue } from '../validation/validate.js';

/** Who holds a unique value: the consumer id and, for a credential, its index. */
interface Holder {
  id: string;
  cred: number;
}

/** The unique values of one consumer, each keyed by kind (`u:` username, `c:` credential id, `k:` key digest, `b:` Basic user, `s:`/`n:` certificate). */
function uniqueValues(c: ConsumerConfig): { key: string; cred: number }[] {
  const out: { key: string; cred: number }[] = [];
  if (c.username !== undefined) out.push({ key: `u:${c.username}`, cred: -1 });
  c.credentials.forEach((cred, j) => {
    out.push({ key: `c:${credentialId(c.id, cred.type, j, cred.id)}`, cred: j });
    if (cred.type === 'api-key') {
      if (apiKeyProblem(cred.key) === undefined) out.push({ key: `k:${credentialDigest(cred).toString('base64')}`, cred: j });
    } else if (cred.type === 'basic') out.push({ key: `b:${cred.username}`, cred: j });
    else out.push({ key: cred.subject !== undefined ? `s:${cred.subject}` : `n:${cred.san}`, cred: j });
  });
  return out;
}

export class ConsumerIndex {
  /** Consumer id → its position in `source`. */
  private position = new Map<string, number>();
  private readonly holders = new Map<string, Holder>();
  private readonly values = new Map<string, string[]>();

  constructor(public source: readonly ConsumerConfig[]) {
    source.forEach((c, i) => {
      this.position.set(c.id, i);
      this.hold(c);
    });
  }

  private hold(c: ConsumerConfig): void {
    const mine: string[] = [];
    for (const v of uniqueValues(c)) {
      if (!this.holders.has(v.key)) this.holders.set(v.key, { id: c.id, cred: v.cred });
      mine.push(v.key);
    }
    this.values.set(c.id, mine);
  }

  private release(id: string): void {
    for (const k of this.values.get(id) ?? []) if (this.holders.get(k)?.id === id) this.holders.delete(k);
    this.values.delete(id);
  }

  has(id: string): boolean {
    return this.position.has(id);
  }

  /**
   * The consumer list after `delta` and the issues it has (none: it may be applied). Replaced
   * consumers keep their place; new ones are appended; removed ones leave the list.
   */
  prepare(config: GatehouseConfig, delta: ConsumerDelta): { consumers: ConsumerConfig[]; issues: ConfigIssue[] } {
    const removed = new Set(delta.remove);
    const upserts = new Map(delta.upsert.map((c) => [c.id, c]));
    const next: ConsumerConfig[] = [];
    for (const c of this.source) if (!removed.has(c.id)) next.push(upserts.get(c.id) ?? c);
    for (const c of delta.upsert) if (!this.position.has(c.id) && !removed.has(c.id)) next.push(c);
    const issues: ConfigIssue[] = [];
    // Positions in the new list: where an issue is reported, as a whole-config validation would.
    // Without removals the old positions hold, and appended consumers follow them (no 100,000-entry rebuild).
    let at: { get(id: string): number | undefined; has(id: string): boolean };
    if (removed.size > 0) at = new Map(next.map((c, i) => [c.id, i]));
    else {
      const appended = new Map(next.slice(this.source.length).map((c, k) => [c.id, this.source.length + k]));
      at = { get: (id) => this.position.get(id) ?? appended.get(id), has: (id) => this.position.has(id) || appended.has(id) };
    }
    const changed = delta.upsert.map((consumer) => ({ at: at.get(consumer.id)!, consumer }));
    const where = (h: Holder) => `consumers[${at.get(h.id)}]${h.cred >= 0 ? `.credentials[${h.cred}]` : ''}`;
    const claimed = new Map<string, Holder>();
    for (const { at: i, consumer: c } of changed) {
      // Duplicates within the consumer itself: the whole-config check, moved to its place.
      for (const issue of consumerIssues([c])) issues.push({ ...issue, path: issue.path.replace(/^consumers\[0\]/, `consumers[${i}]`) });
      for (const v of uniqueValues(c)) {
        let holder = claimed.get(v.key);
        const old = this.holders.get(v.key);
        // A value held by a consumer this change replaces or removes is free again.
        if (holder === undefined && old !== undefined && !upserts.has(old.id) && !removed.has(old.id)) holder = old;
        if (holder === undefined || holder.id === c.id) {
          claimed.set(v.key, { id: c.id, cred: v.cred });
          continue;
        }
        const self = `consumers[${i}]${v.cred >= 0 ? `.credentials[${v.cred}]` : ''}`;
        const value = v.key.slice(2);
        issues.push(
          v.key.startsWith('u:')
            ? { path: `${self}.username`, message: `duplicate username "${value}" (also ${where(holder)})` }
            : v.key.startsWith('c:')
              ? { path: `${self}.id`, message: `duplicate credential id "${value}" (also ${where(holder)})` }
              : v.key.startsWith('k:')
                ? { path: `${self}.key`, message: `this API key is already used by ${where(holder)}` }
                : v.key.startsWith('b:')
                  ? { path: `${self}.username`, message: `Basic username "${value}" is already used by ${where(holder)}` }
                  : {
                      path: self,
                      message: `this certificate ${v.key.startsWith('s:') ? 'subject' : 'san'} is already used by ${where(holder)}`,
                    },
        );
      }
    }
    const ids: ReadonlySet<string> = { has: (id: string) => at.has(id) } as ReadonlySet<string>;
    issues.push(...consumerReferenceIssues(config, ids, changed));
    return { consumers: next, issues };
  }

  /** Whether `delta` leaves `consumers` (this index's list) as they are: each upsert equal to the consumer it replaces, no removal. */
  changesNothing(consumers: readonly ConsumerConfig[], delta: ConsumerDelta): boolean {
    if (delta.remove.length > 0) return false;
    return delta.upsert.every((c) => {
      const at = this.position.get(c.id);
      return at !== undefined && canonical(consumers[at]) === canonical(c);
    });
  }

  /** Takes in an applied change (`consumers` is the list `prepare` gave). */
  commit(delta: ConsumerDelta, consumers: readonly ConsumerConfig[]): void {
    for (const id of delta.remove) this.release(id);
    for (const c of delta.upsert) {
      this.release(c.id);
      this.hold(c);
    }
    if (delta.remove.length > 0) this.position = new Map(consumers.map((c, i) => [c.id, i]));
    else for (let i = this.source.length; i < consumers.length; i++) this.position.set(consumers[i]!.id, i);
    this.source = consumers;
  }
}

/** Canonical JSON: keys sorted, undefined left out (as JSON leaves it out). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonical(x))).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
