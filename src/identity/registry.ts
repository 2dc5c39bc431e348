// The consumer registry: built once per config (compile time), read per request. Every lookup a
// request needs is one Map.get: API keys by SHA-256 digest, Basic users by username, client
// certificates by subject CN or SAN, consumers by id or username.
import type { ConsumerConfig } from '../config/consumer-schema.js';
import { credentialDigest, parseScrypt, sameDigest, sha256, type ScryptHash } from './secrets.js';
import type { Identity } from './identity.js';

export interface ConsumerEntry {
  id: string;
  username: string | undefined;
  groups: readonly string[];
  plan: string | undefined;
}

export interface KeyEntry {
  consumer: ConsumerEntry;
  credentialId: string;
  digest: Buffer;
}
export interface BasicEntry {
  consumer: ConsumerEntry;
  credentialId: string;
  /** SHA-256 of a plain password, compared in constant time. */
  plain: Buffer | undefined;
  scrypt: ScryptHash | undefined;
}
export interface CertEntry {
  consumer: ConsumerEntry;
  credentialId: string;
}

/** The default credential id: stable as long as the consumer's credential list keeps its order. */
export function credentialId(consumerId: string, type: string, index: number, explicit: string | undefined): string {
  return explicit ?? `${consumerId}:${type}:${index}`;
}

/** A change of some consumers only: each of `upsert` replaces the consumer of its id (or is added); `remove` lists ids. */
export interface ConsumerDelta {
  upsert: ConsumerConfig[];
  remove: string[];
}

/** What one consumer put in the indexes, so a change can take it out again. */
interface Owned {
  username: string | undefined;
  keys: string[];
  basic: string[];
  subjects: string[];
  sans: string[];
}

export class ConsumerRegistry {
  readonly byId = new Map<string, ConsumerEntry>();
  private readonly owned = new Map<string, Owned>();
  private readonly byUsername = new Map<string, ConsumerEntry>();
  private readonly keys = new Map<string, KeyEntry>();
  /**
   * Keys already verified, by the key as presented: a known key skips its SHA-256 (about a third
   * of key-auth's cost). Only a key whose digest matched an entry goes in, so the map holds at most
   * one string per api-key credential and an attacker's guesses never enter it. It lives and dies
   * with this registry (a reload or consumer change builds a new one). Decision 0002.
   */
  private readonly verified = new Map<string, KeyEntry>();
  private readonly basic = new Map<string, BasicEntry>();
  private readonly subjects = new Map<string, CertEntry>();
  private readonly sans = new Map<string, CertEntry>();

  constructor(consumers: readonly ConsumerConfig[]) {
    for (const c of consumers) this.add(c);
  }

  /**
   * The registry of a consumer list. A frozen list (validation/validate.ts: known valid, never
   * changed) is indexed once: a plan compiled again with it (a route edit; with 100,000 consumers)
   * gets a copy of the indexes, not every consumer indexed again. The copy is its own: a consumer
   * change applied to it changes no other (entries are replaced, never changed in place).
   */
  static of(consumers: readonly ConsumerConfig[]): ConsumerRegistry {
    if (!Object.isFrozen(consumers)) return new ConsumerRegistry(consumers);
    const template = templates.get(consumers);
    if (template !== undefined) return template.copy();
    const registry = new ConsumerRegistry(consumers);
    templates.set(consumers, registry.copy());
    return registry;
  }

  private copy(): ConsumerRegistry {
    const r = new ConsumerRegistry([]);
    for (const [k, v] of this.byId) r.byId.set(k, v);
    copyInto(this.owned, r.owned);
    copyInto(this.byUsername, r.byUsername);
    copyInto(this.keys, r.keys);
    copyInto(this.basic, r.basic);
    copyInto(this.subjects, r.subjects);
    copyInto(this.sans, r.sans);
    return r;
  }

  /**
   * Applies a change of some consumers in place (admin consumer edits): the policies holding this
   * registry see it at once, and nothing else is recompiled. Validated before it gets here.
   */
  applyDelta(delta: ConsumerDelta): void {
    for (const id of delta.remove) this.drop(id);
    for (const c of delta.upsert) {
      this.drop(c.id);
      this.add(c);
    }
    // A removed or replaced key must stop working at once: the cache of verified keys starts over.
    this.verified.clear();
  }

  private add(c: ConsumerConfig): void {
    const entry: ConsumerEntry = { id: c.id, username: c.username, groups: Object.freeze([...c.groups]), plan: c.plan };
    const owned: Owned = { username: c.username, keys: [], basic: [], subjects: [], sans: [] };
    this.byId.set(c.id, entry);
    this.owned.set(c.id, owned);
    if (c.username !== undefined) this.byUsername.set(c.username, entry);
    c.credentials.forEach((cred, i) => {
      const credId = credentialId(c.id, cred.type, i, cred.id);
      switch (cred.type) {
        case 'api-key': {
          const digest = credentialDigest(cred);
          const k = digest.toString('base64');
          this.keys.set(k, { consumer: entry, credentialId: credId, digest });
          owned.keys.push(k);
          break;
        }
        case 'basic': {
          const scrypt = cred.password.startsWith('scrypt:') ? parseScrypt(cred.password) : undefined;
          this.basic.set(cred.username, {
            consumer: entry,
            credentialId: credId,
            scrypt,
            plain: scrypt ? undefined : sha256(cred.password),
          });
          owned.basic.push(cred.username);
          break;
        }
        case 'mtls':
          if (cred.subject !== undefined) {
            this.subjects.set(cred.subject, { consumer: entry, credentialId: credId });
            owned.subjects.push(cred.subject);
          }
          if (cred.san !== undefined) {
            this.sans.set(cred.san, { consumer: entry, credentialId: credId });
            owned.sans.push(cred.san);
          }
          break;
      }
    });
  }

  /** Takes a consumer out of every index (only the entries that are still its own). */
  private drop(id: string): void {
    const owned = this.owned.get(id);
    if (owned === undefined) return;
    const mine = (m: Map<string, { consumer: ConsumerEntry }>, k: string) => {
      if (m.get(k)?.consumer.id === id) m.delete(k);
    };
    owned.keys.forEach((k) => mine(this.keys, k));
    owned.basic.forEach((k) => mine(this.basic, k));
    owned.subjects.forEach((k) => mine(this.subjects, k));
    owned.sans.forEach((k) => mine(this.sans, k));
    if (owned.username !== undefined && this.byUsername.get(owned.username)?.id === id) this.byUsername.delete(owned.username);
    this.byId.delete(id);
    this.owned.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The entry of a presented API key: looked up by its SHA-256, compared in constant time. */
  apiKey(key: string): KeyEntry | undefined {
    const known = this.verified.get(key);
    if (known !== undefined) return known;
    const digest = sha256(key);
    const entry = this.keys.get(digest.toString('base64'));
    if (entry === undefined || !sameDigest(entry.digest, digest)) return undefined;
    this.verified.set(key, entry);
    return entry;
  }

  basicUser(username: string): BasicEntry | undefined {
    return this.basic.get(username);
  }

  certSubject(cn: string): CertEntry | undefined {
    return this.subjects.get(cn);
  }

  certSan(value: string): CertEntry | undefined {
    return this.sans.get(value);
  }

  /** A consumer by id, else by username (token claims may carry either). */
  find(idOrUsername: string): ConsumerEntry | undefined {
    return this.byId.get(idOrUsername) ?? this.byUsername.get(idOrUsername);
  }
}

export function identityOf(consumer: ConsumerEntry, credentialId: string | undefined, method: string): Identity {
  return { consumerId: consumer.id, username: consumer.username, groups: consumer.groups, plan: consumer.plan, credentialId, method };
}

export const EMPTY_REGISTRY = new ConsumerRegistry([]);

/** A registry per frozen consumer list, never changed itself (ConsumerRegistry.of copies it). */
const templates = new WeakMap<readonly ConsumerConfig[], ConsumerRegistry>();

function copyInto<K, V>(from: ReadonlyMap<K, V>, to: Map<K, V>): void {
  for (const [k, v] of from) to.set(k, v);
}
