// `type: bot-detection` — refuse clients by User-Agent: a built-in list of common attack tools and
// abusive scanners, plus `deny` patterns; `allow` patterns win over both. All patterns are
// case-insensitive regular expressions, joined into one regex per list once per config.
import { z } from 'zod';
import { definePolicy, type RespondVerdict } from '../types.js';
import { findHeader } from '../../dataplane/header-list.js';
import { RegexSource, unionRegex } from '../../edge/patterns.js';
import { BUILTIN_BAD_AGENTS } from './builtin-agents.js';

const schema = z.strictObject({
  type: z.literal('bot-detection'),
  builtin: z.boolean().default(true).meta({ description: 'Refuse the built-in list of attack tools and scanners.' }),
  deny: z.array(RegexSource).default([]).meta({ description: 'More User-Agent patterns to refuse (regex, case-insensitive).' }),
  allow: z.array(RegexSource).default([]).meta({ description: 'User-Agent patterns always let through, even when denied.' }),
  denyMissing: z.boolean().default(false).meta({ description: 'Refuse requests without a User-Agent.' }),
});

export const botDetectionPolicy = definePolicy({
  type: 'bot-detection',
  description: 'Refuse clients by User-Agent (built-in list of abusive agents, deny and allow patterns); 403 GW_BOT_FORBIDDEN.',
  schema,
  phases: ['access'],
  order: 'edge',
  example: {},
  create(config) {
    const deny = unionRegex(config.builtin ? [...BUILTIN_BAD_AGENTS, ...config.deny] : config.deny);
    const allow = unionRegex(config.allow);
    const denyMissing = config.denyMissing;
    const refused: RespondVerdict = { status: 403, code: 'GW_BOT_FORBIDDEN' };
    return {
      access(ctx) {
        const ua = findHeader(ctx.req.rawHeaders, 'user-agent');
        if (ua === undefined || ua === '') return denyMissing ? refused : undefined;
        if (allow?.test(ua)) return undefined;
        if (deny?.test(ua)) return refused;
        return undefined;
      },
    };
  },
});
