// Which certificate a client gets for the name it sends (SNI): an exact-name map and a wildcard
// map, built once per set of certificates, so a handshake costs at most two map lookups whatever
// the number of certificates.
import type { X509Certificate } from 'node:crypto';

/** The DNS names in a certificate's subjectAltName, or its subject CN when it has none (RFC 6125 §6.4.4). */
export function certificateNames(cert: X509Certificate): string[] {
  const dns: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    // Node quotes a value with unusual characters (DNS:"a,b"); no such value is a host name.
    if (entry.startsWith('DNS:') && !entry.startsWith('DNS:"')) dns.push(entry.slice(4).toLowerCase());
  }
  if (dns.length > 0) return [...new Set(dns)];
  // A CN is used only when it reads as a host name ("Example Server" could never match SNI).
  const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1]?.toLowerCase();
  return cn !== undefined && /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(cn) ? [cn] : [];
}

/** Lower case, no trailing dot: the form names are kept and looked up in. */
export function normalizeServerName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** A name served by two certificates: the first one listed serves it. */
export interface NameConflict {
  name: string;
  /** Index of the certificate that serves it, and of the one that also names it. */
  kept: number;
  shadowed: number;
}

export class SniTable<T> {
  private readonly exact = new Map<string, T>();
  /** "example.com" → the certificate of "*.example.com" (a wildcard covers exactly one label). */
  private readonly wildcard = new Map<string, T>();
  readonly conflicts: NameConflict[] = [];
  /** Names that are neither a host name nor "*.<host name>" (e.g. "a*.example.com"): never matched. */
  readonly ignored: string[] = [];

  constructor(entries: readonly { names: readonly string[]; value: T }[]) {
    const owner = new Map<string, number>();
    entries.forEach(({ names, value }, i) => {
      for (const raw of names) {
        const name = normalizeServerName(raw);
        const wild = name.startsWith('*.');
        const key = wild ? name.slice(2) : name;
        if (key === '' || key.includes('*')) {
          this.ignored.push(raw);
          continue;
        }
        const prev = owner.get(name);
        if (prev !== undefined) {
          if (prev !== i) this.conflicts.push({ name, kept: prev, shadowed: i });
          continue;
        }
        owner.set(name, i);
        (wild ? this.wildcard : this.exact).set(key, value);
      }
    });
  }

  /** The certificate for a name the client sent, or undefined when none covers it. */
  find(servername: string): T | undefined {
    const name = normalizeServerName(servername);
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    const dot = name.indexOf('.');
    return dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined;
  }
}
