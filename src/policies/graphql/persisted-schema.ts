// The `graphql` policy's `persisted` option (automatic persisted queries or an allow list) and the
// top-level `graphqlOperations` section it owns: the operations registered through the admin API
// (or written in the config), which an allow list runs besides its manifest's.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Duration, Size } from '../config-fields.js';

/** A persisted operation's id: the SHA-256 of its document's exact text, in lower-case hex. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The largest registered document, in characters (a manifest's or the admin API's). */
export const MAX_OPERATION_CHARS = 1_000_000;
/** The most operations the `graphqlOperations` section holds. */
export const MAX_SECTION_OPERATIONS = 10_000;
/** The most characters of documents the `graphqlOperations` section holds in all. */
export const MAX_SECTION_CHARS = 64_000_000;
/** An operation's name, as the manifest or the admin API gives it (shown, never run). */
export const MAX_NAME_CHARS = 200;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export const PersistedSchema = z
  .strictObject({
    mode: z.enum(['apq', 'allowList']).default('apq').meta({
      description:
        'apq: automatic persisted queries (clients register a document by sending it with its SHA-256 hash, then send the hash alone); allowList: only registered operations run (the manifest and the admin-registered `graphqlOperations`).',
    }),
    manifest: z.string().min(1).max(4096).optional().meta({
      description:
        "A file of registered operations, read when the config is compiled (a path, relative to the gateway's working directory): Apollo's persisted query manifest or a JSON object of sha256 → document. apq: these hashes are known from the start.",
    }),
    store: z.enum(['memory', 'redis']).default('memory').meta({
      description:
        "apq: where the documents clients register are kept. memory: this process's own; redis: the top-level store's Redis (type: redis), shared by every instance (memory stays a first level, and the fallback while Redis is down).",
    }),
    maxEntries: z.number().int().min(1).max(1_000_000).default(10_000).meta({
      description: 'apq: most documents the memory cache holds (least recently used go first).',
    }),
    maxSize: Size.default('32mb').meta({ description: 'apq: most bytes of documents the memory cache holds.' }),
    ttl: Duration.default('24h').meta({
      description:
        'apq with store: redis — how long Redis keeps a registered document (renewed when it is registered through an instance whose memory does not hold it).',
    }),
    requireId: z.boolean().default(false).meta({
      description:
        'allowList: a request must name its operation by id (extensions.persistedQuery.sha256Hash); a full document is refused even if registered.',
    }),
  })
  .superRefine((p, ctx) => {
    if (p.mode === 'apq' && p.requireId) ctx.addIssue({ code: 'custom', path: ['requireId'], message: 'requireId is for mode: allowList' });
    if (p.mode === 'allowList' && p.store === 'redis')
      ctx.addIssue({
        code: 'custom',
        path: ['store'],
        message: 'store is for mode: apq (an allow list registers no document from clients)',
      });
  })
  .meta({ description: 'Persisted operations: automatic persisted queries (apq) or an allow list of registered operations.' });

export type PersistedConfig = z.output<typeof PersistedSchema>;

/** One registered operation of the `graphqlOperations` section. */
export const RegisteredOperation = z
  .strictObject({
    id: z.string().regex(SHA256_HEX, { error: 'an id is the SHA-256 of the body, 64 lower-case hex digits' }).optional().meta({
      description: 'The SHA-256 of `body` in lower-case hex (computed when absent; checked when given).',
    }),
    name: z.string().min(1).max(MAX_NAME_CHARS).optional().meta({ description: 'A name for people (shown by GET /graphql/operations).' }),
    body: z
      .string()
      .min(1)
      .max(MAX_OPERATION_CHARS)
      .meta({ description: 'The GraphQL document, exactly as clients send it (its SHA-256 is its id: no normalisation).' }),
  })
  .superRefine((op, ctx) => {
    if (op.id !== undefined && op.id !== sha256Hex(op.body))
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'the id is not the SHA-256 of the body' });
  });

export type RegisteredOperationConfig = z.output<typeof RegisteredOperation>;

/** The top-level key the `graphql` type owns for registered operations. */
export const OPERATIONS_SECTION = 'graphqlOperations';

/** The top-level sections the `graphql` type owns (PolicyDefinition.sections). */
export const persistedSections = {
  [OPERATIONS_SECTION]: z
    .array(RegisteredOperation)
    .max(MAX_SECTION_OPERATIONS)
    .default([])
    .superRefine((ops, ctx) => {
      const seen = new Map<string, number>();
      let chars = 0;
      ops.forEach((op, i) => {
        chars += op.body.length;
        const id = op.id ?? sha256Hex(op.body);
        const first = seen.get(id);
        if (first !== undefined)
          ctx.addIssue({ code: 'custom', path: [i, 'body'], message: `the same document as graphqlOperations[${first}]` });
        else seen.set(id, i);
      });
      if (chars > MAX_SECTION_CHARS)
        ctx.addIssue({ code: 'custom', path: [], message: `the documents are longer than ${MAX_SECTION_CHARS} characters in all` });
    })
    .meta({
      description:
        'GraphQL operations registered through the admin API (POST /graphql/operations), or written here: every `graphql` policy in allowList mode runs them, besides its manifest.',
    }),
};
