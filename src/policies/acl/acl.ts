// `type: acl` — authorisation by consumer group, after an authentication policy. `deny` wins over
// `allow`; with `allow`, a consumer needs at least one of the groups. No identity at all is a 401
// (an authentication policy must run first); a known caller refused is a 403.
import { z } from 'zod';
import { definePolicy } from '../types.js';
import { forbidden, logFailure, unauthorized } from '../../identity/authenticator.js';

export const aclSchema = z
  .strictObject({
    type: z.literal('acl'),
    allow: z.array(z.string().min(1)).optional().meta({ description: 'Groups allowed (any one suffices).' }),
    deny: z.array(z.string().min(1)).optional().meta({ description: 'Groups refused (wins over allow).' }),
  })
  .refine((c) => (c.allow?.length ?? 0) + (c.deny?.length ?? 0) > 0, { error: 'an acl needs allow or deny groups' });

export const aclPolicy = definePolicy({
  type: 'acl',
  description: 'Allow or deny consumers by group.',
  schema: aclSchema,
  phases: ['access'],
  order: 'authorise',
  example: { allow: ['staff'] },
  create(config, env) {
    const allow = config.allow ? new Set(config.allow) : undefined;
    const deny = new Set(config.deny ?? []);
    const noIdentity = unauthorized('Bearer realm="gatehouse"');
    const refused = forbidden(undefined);
    return {
      access(ctx) {
        const id = ctx.identity;
        if (id === undefined) {
          logFailure(env, ctx, 'acl', 'no authenticated identity (put an authentication policy before acl)', 'missing');
          return noIdentity;
        }
        const groups = id.groups;
        for (let i = 0; i < groups.length; i++) {
          if (deny.has(groups[i]!)) {
            logFailure(env, ctx, 'acl', `consumer ${id.consumerId ?? '(none)'} is in denied group ${groups[i]}`, 'forbidden');
            return refused;
          }
        }
        if (allow === undefined) return undefined;
        for (let i = 0; i < groups.length; i++) if (allow.has(groups[i]!)) return undefined;
        logFailure(env, ctx, 'acl', `consumer ${id.consumerId ?? '(none)'} is in none of the allowed groups`, 'forbidden');
        return refused;
      },
    };
  },
});
