// The members of a service: its configured targets, with every target given by a DNS name expanded
// into one member per resolved address (until the first answer, the name itself stands in, and
// the connection resolves it). Members are what the balancer, the health checks and the pools see.
import { isIP } from 'node:net';
import type { ServiceConfig } from '../config/schema.js';

export interface Member {
  /** Stable identity: the target URL, plus "|address" for a DNS-expanded member. */
  key: string;
  /** The configured target URL this member comes from. */
  configUrl: string;
  /** For people: the URL, plus " (address)" when expanded. */
  url: string;
  /** scheme://host:port to connect to (an address for expanded members). */
  origin: string;
  basePath: string;
  /** The Host header the target expects: always the configured host. */
  host: string;
  /** TLS server name when connecting to an address of an https:// target. */
  servername: string | undefined;
}

/** Host names left to the system resolver at connect time (no expansion). */
export function resolvesLocally(hostname: string): boolean {
  return isIP(hostname.replace(/^\[|\]$/g, '')) !== 0 || hostname === 'localhost' || hostname.endsWith('.localhost');
}

/** A target's own member (the URL as written). */
export function plainMember(url: string): Member {
  const u = new URL(url);
  return {
    key: url,
    configUrl: url,
    url,
    origin: u.origin,
    basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, ''),
    host: u.host,
    servername: undefined,
  };
}

/** The members of `cfg` given the addresses known so far for each host name. */
export function expandMembers(cfg: ServiceConfig, addressesOf: (hostname: string) => readonly string[]): Member[] {
  const out: Member[] = [];
  for (const t of cfg.targets) {
    const plain = plainMember(t.url);
    const u = new URL(t.url);
    const addresses = resolvesLocally(u.hostname) ? [] : addressesOf(u.hostname);
    if (addresses.length === 0) {
      out.push(plain);
      continue;
    }
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    for (const a of addresses) {
      out.push({
        ...plain,
        key: `${t.url}|${a}`,
        url: `${t.url} (${a})`,
        origin: `${u.protocol}//${isIP(a) === 6 ? `[${a}]` : a}:${port}`,
        servername: u.protocol === 'https:' ? u.hostname : undefined,
      });
    }
  }
  return out;
}

/** The host names of `cfg` that need resolving. */
export function hostnamesOf(cfg: ServiceConfig): string[] {
  return [...new Set(cfg.targets.map((t) => new URL(t.url).hostname).filter((h) => !resolvesLocally(h)))];
}
