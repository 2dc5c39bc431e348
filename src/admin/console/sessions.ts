// The console's sessions: in memory in the admin process, one random id (the cookie) each, with a
// CSRF value the page keeps in memory and sends back on every change. A session ends after 30
// minutes unused or 12 hours in all; at most 1000 live at once (the oldest goes first); all end when
// the admin token changes. Ids are compared through a Map lookup of their SHA-256: the map never
// holds the cookie itself, and a lookup by digest leaks nothing useful about a near miss.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CONSOLE_COOKIE } from '../../dataplane/forwarding.js';

/** The data plane strips it from requests it forwards (dataplane/forwarding.ts). */
export const COOKIE_NAME = CONSOLE_COOKIE;
export const IDLE_MS = 30 * 60_000;
export const ABSOLUTE_MS = 12 * 60 * 60_000;
export const MAX_SESSIONS = 1000;

export interface Session {
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

export class SessionStore {
  /** sha256(id) → session, in creation order (a Map keeps insertion order: the first is the oldest). */
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly idleMs = IDLE_MS,
    private readonly absoluteMs = ABSOLUTE_MS,
    private readonly max = MAX_SESSIONS,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session: its cookie value (shown once, to the browser) and the session. */
  create(): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = { csrf: randomBytes(32).toString('base64url'), createdAt: t, lastSeen: t };
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(digest(id), session);
    return { id, session };
  }

  /** The live session of a cookie value, marked as used now; undefined (and forgotten) when expired. */
  get(id: string | undefined, touch = true): Session | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > this.idleMs || t - s.createdAt > this.absoluteMs) {
      this.sessions.delete(key);
      return undefined;
    }
    if (touch) s.lastSeen = t;
    return s;
  }

  /** When the session ends if nothing else happens: idle or absolute, whichever comes first. */
  expiresAt(s: Session): Date {
    return new Date(Math.min(s.lastSeen + this.idleMs, s.createdAt + this.absoluteMs));
  }

  drop(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(digest(id));
  }

  clear(): void {
    this.sessions.clear();
  }

  /** Seconds the cookie may live (the absolute limit; the server ends it sooner when idle). */
  get maxAgeSeconds(): number {
    return Math.floor(this.absoluteMs / 1000);
  }
}

/** The session cookie's value from a Cookie header (the first of that name), if any. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === COOKIE_NAME) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session (no Secure: the admin listener is plain HTTP, on loopback by default). */
export function sessionSetCookie(id: string, maxAgeSeconds: number): string {
  return `${COOKIE_NAME}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}`;
}

export function clearedCookie(): string {
  return `${COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** A presented CSRF value against the session's, in constant time (digests: equal lengths). */
export function csrfMatches(presented: string | string[] | undefined, session: Session): boolean {
  if (typeof presented !== 'string' || presented === '') return false;
  return timingSafeEqual(digestBuf(presented), digestBuf(session.csrf));
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

function digestBuf(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
