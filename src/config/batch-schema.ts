// `routes[].batch`: a route that answers by itself with the answers of several requests to this
// gateway's own routes, sent by the client as one JSON list (src/routes/batch/). Each request runs
// through its own route's policies; these are the batch's own bounds.
import { z } from 'zod';
import { Duration, Size } from './units-schema.js';
import { parseSize } from './units.js';

export const BATCH_DEFAULTS = {
  maxRequests: 20,
  maxBody: '1mb',
  concurrency: 10,
  maxResponseBody: '1mb',
  timeout: '30s',
} as const;

/** The most requests one batch may ever be configured to carry. */
export const BATCH_MAX_REQUESTS = 100;

const PositiveSize = Size.refine((v) => parseSize(v) > 0, { error: 'must be at least 1 byte' });

export const BatchSchema = z
  .strictObject({
    maxRequests: z
      .number()
      .int()
      .min(1)
      .max(BATCH_MAX_REQUESTS)
      .default(BATCH_DEFAULTS.maxRequests)
      .meta({
        description: `The most requests one batch may carry (at most ${BATCH_MAX_REQUESTS}); more answers 400 GW_BATCH_TOO_MANY and none runs.`,
      }),
    maxBody: PositiveSize.default(BATCH_DEFAULTS.maxBody).meta({
      description: 'The largest batch body (the JSON list), read whole; larger answers 413 GW_PAYLOAD_TOO_LARGE.',
    }),
    concurrency: z.number().int().min(1).max(BATCH_MAX_REQUESTS).default(BATCH_DEFAULTS.concurrency).meta({
      description: 'How many of a batch’s requests run at once; the others wait their turn, in order.',
    }),
    maxResponseBody: PositiveSize.default(BATCH_DEFAULTS.maxResponseBody).meta({
      description:
        'The largest response body one request of the batch may have; a larger one is not read and its entry is 502 GW_BATCH_ITEM_TOO_LARGE.',
    }),
    timeout: Duration.default(BATCH_DEFAULTS.timeout).meta({
      description:
        'The longest a whole batch may take; requests still running then are cancelled and, with those not started, get 504 GW_BATCH_TIMEOUT entries. 0 = no limit.',
    }),
  })
  .meta({
    description: 'This route answers batches: a JSON list of requests to this gateway’s routes, answered with the list of their responses.',
  });

export type BatchConfig = z.output<typeof BatchSchema>;
