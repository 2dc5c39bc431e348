// `type: request-termination` — answer at the gateway without calling the service (maintenance
// pages, mocks, retired API versions). With `code`, the body is the standard JSON error.
import { z } from 'zod';
import { HeaderName, HeaderValue } from '../header-fields.js';
import { definePolicy, type RespondVerdict } from '../types.js';
import { ERRORS, type ErrorCode } from '../../errors.js';

const codes = Object.keys(ERRORS).filter((c) => c.startsWith('GW_')) as [ErrorCode, ...ErrorCode[]];

const schema = z
  .strictObject({
    type: z.literal('request-termination'),
    status: z.number().int().min(100).max(599).default(503),
    code: z.enum(codes).optional().meta({ description: 'Answer with this standard JSON error instead of `body`.' }),
    message: z.string().optional().meta({ description: 'With `code`: the error message of the JSON error.' }),
    body: z.string().optional().meta({ description: 'Without `code`: the literal body.' }),
    headers: z.record(HeaderName, HeaderValue).default({}),
  })
  .superRefine((c, ctx) => {
    // Either answer is whole on its own: a field the chosen one would ignore is a mistake to report.
    if (c.message !== undefined && c.code === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['message'],
        message: 'message is the text of a JSON error: it needs code (or use body for a literal answer)',
      });
    if (c.body !== undefined && c.code !== undefined)
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'with code the body is the standard JSON error: give message, not body' });
  });

export const requestTerminationPolicy = definePolicy({
  type: 'request-termination',
  description: 'Respond from the gateway with a fixed status, headers and body.',
  schema,
  phases: ['access'],
  order: 'other',
  example: { status: 503, body: 'down for maintenance' },
  create(config) {
    // Built once per config; every request gets the same verdict object.
    const verdict: RespondVerdict = { status: config.status, headers: config.headers };
    if (config.code) verdict.code = config.code;
    if (config.message !== undefined) verdict.message = config.message;
    if (config.body !== undefined) verdict.body = config.body;
    return { access: () => verdict };
  },
});
