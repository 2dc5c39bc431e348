// `type: request-size-limit` — the largest request body a route accepts. A Content-Length over
// the limit is refused up front (413, nothing sent upstream); a chunked body is counted as it
// streams to the upstream (the exchange does that with `maxBodyBytes`, see edge/body-limit.ts)
// and cut off with 413 once it passes the limit. Nothing is buffered.
import { z } from 'zod';
import { Size } from '../config-fields.js';
import { definePolicy, type RespondVerdict } from '../types.js';
import { parseSize } from '../../config/units.js';
import { findHeader } from '../../dataplane/header-list.js';

const schema = z.strictObject({
  type: z.literal('request-size-limit'),
  maxBody: Size.meta({ description: 'Largest request body, e.g. "1mb".' }),
});

export const requestSizeLimitPolicy = definePolicy({
  type: 'request-size-limit',
  description: 'Refuse request bodies over a size (413 GW_PAYLOAD_TOO_LARGE), up front or while they stream.',
  schema,
  phases: ['access'],
  order: 'limit',
  example: { maxBody: '1mb' },
  create(config) {
    const max = parseSize(config.maxBody);
    // The body is left unread: close the connection rather than read it to reuse it.
    const refused: RespondVerdict = { status: 413, code: 'GW_PAYLOAD_TOO_LARGE', headers: { connection: 'close' } };
    return {
      maxBodyBytes: max,
      access(ctx) {
        // Node's parser has already refused malformed, duplicate or listed Content-Length values.
        const cl = findHeader(ctx.req.rawHeaders, 'content-length');
        if (cl !== undefined && Number(cl) > max) return refused;
        return undefined;
      },
    };
  },
});
