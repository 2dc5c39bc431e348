// `type: request-termination` — answer at the gateway without calling the service (maintenance
// pages, mocks, retired API versions). With `code`, the body is the standard JSON error.
import { z } from 'zod';
import { HeaderName, HeaderValue } from '../header-fields.js';
import { definePolicy, type RespondVerdict } from '../types.js';
import { ERRORS, type ErrorCode } from '../../errors.js';

const codes = Object.keys(ERRORS).filter((c) => c.startsWith('GW_')) as [ErrorCode, ...ErrorCode[]];

const schema = z.strictObject({
  type: z.literal('request-termination'),
  status: z.number().int().min(100).max(599).default(503),
  code: z.enum(codes).optional().meta({ description: 'Answer with this standard JSON error instead of `body`.' }),
  message: z.string().optional(),
  body: z.string().optional(),
  headers: z.record(HeaderName, HeaderValue).default({}),
});

export const requestTerminationPolicy = definePolicy({
  type: 'request-termination',
  description: 'Respond from the gateway with a fixed status, headers and body.',
  schema,
  phases: ['access'],
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
