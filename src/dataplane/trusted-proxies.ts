// Which peers may tell us who the client is. Forwarding headers from anyone else are discarded.
import { BlockList, isIP } from 'node:net';

import { parseCidr } from '../config/cidr.js';
export { parseCidr, type Cidr } from '../config/cidr.js';

/** Strips the IPv4-mapped IPv6 prefix node reports on dual-stack sockets. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const p = parseCidr(c);
      if (p) this.list.addSubnet(p.address, p.prefix, p.family);
    }
    this.empty = cidrs.length === 0;
  }

  trusts(ip: string): boolean {
    if (this.empty || !ip) return false;
    const v = isIP(ip);
    if (v === 0) return false;
    return this.list.check(ip, v === 4 ? 'ipv4' : 'ipv6');
  }
}
