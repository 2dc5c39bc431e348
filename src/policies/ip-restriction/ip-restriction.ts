// `type: ip-restriction` — allow or deny clients by IP address or CIDR, IPv4 and IPv6, on the
// client address after trusted-proxy resolution (ctx.clientIp). Deny wins; a non-empty allow
// list admits only its members. The lists become node BlockLists once per config.
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { definePolicy, type RespondVerdict } from '../types.js';
import { parseCidr } from '../../config/cidr.js';

const Cidr = z.string().refine((s) => parseCidr(s) !== undefined, { error: 'not an IP address or CIDR' });

const schema = z
  .strictObject({
    type: z.literal('ip-restriction'),
    allow: z.array(Cidr).default([]).meta({ description: 'Only these addresses/CIDRs may call (empty = anyone not denied).' }),
    deny: z.array(Cidr).default([]).meta({ description: 'These addresses/CIDRs are refused, even when also allowed.' }),
    message: z.string().optional(),
  })
  .refine((c) => c.allow.length > 0 || c.deny.length > 0, { error: 'give at least one "allow" or "deny" entry' });

export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c)!;
    list.addSubnet(p.address, p.prefix, p.family);
  }
  return list;
}

export const ipRestrictionPolicy = definePolicy({
  type: 'ip-restriction',
  description: 'Allow or deny clients by IP address or CIDR (IPv4 and IPv6); 403 GW_IP_FORBIDDEN.',
  schema,
  phases: ['access'],
  order: 'edge',
  example: { allow: ['10.0.0.0/8'] },
  create(config) {
    const allow = config.allow.length > 0 ? blockListOf(config.allow) : undefined;
    const deny = config.deny.length > 0 ? blockListOf(config.deny) : undefined;
    const refused: RespondVerdict = { status: 403, code: 'GW_IP_FORBIDDEN' };
    if (config.message !== undefined) refused.message = config.message;
    return {
      access(ctx) {
        const ip = ctx.clientIp;
        const v = isIP(ip);
        if (v === 0) return refused; // no usable address: never let it through a restriction
        const family = v === 4 ? 'ipv4' : 'ipv6';
        if (deny?.check(ip, family)) return refused;
        if (allow && !allow.check(ip, family)) return refused;
        return undefined;
      },
    };
  },
});
