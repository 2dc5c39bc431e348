// The `consumers:` section: who may call, and the credentials that prove it. Secrets may be
// written plain, as `${ENV}` (interpolated at load), or hashed (`sha256:<hex>` for API keys,
// `scrypt:...` for Basic passwords, see secrets.ts).
import { z } from 'zod';
import { apiKeyProblem, passwordProblem } from './secret-formats.js';

const ConsumerId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/, { error: 'consumer ids use letters, digits, ".", "_", "@", ":" and "-" (at most 128)' });

const CredentialId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,199}$/, { error: 'credential ids use letters, digits, ".", "_", "@", ":" and "-"' })
  .optional()
  .meta({ description: 'Stable id sent upstream as X-Credential-Id; default "<consumer>:<type>:<index>".' });

const ApiKeyCredential = z.strictObject({
  type: z.literal('api-key'),
  id: CredentialId,
  key: z
    .string()
    .min(1)
    .refine((k) => apiKeyProblem(k) === undefined, { error: 'a hashed key is "sha256:" followed by 64 hex digits' })
    .meta({ description: 'The key: plain, ${ENV}, or "sha256:<64 hex>" (the SHA-256 of the key).' }),
});

const BasicCredential = z.strictObject({
  type: z.literal('basic'),
  id: CredentialId,
  username: z
    .string()
    .min(1)
    .regex(/^[^:]+$/, { error: 'a Basic username cannot contain ":"' }),
  password: z
    .string()
    .min(1)
    .refine((p) => passwordProblem(p) === undefined, { error: passwordProblem('scrypt:') })
    .meta({ description: 'Plain, ${ENV}, or "scrypt:<N>:<r>:<p>:<saltB64>:<hashB64>" (gatehouse hash-password).' }),
});

const MtlsCredential = z
  .strictObject({
    type: z.literal('mtls'),
    id: CredentialId,
    subject: z.string().min(1).optional().meta({ description: "The client certificate's subject common name (CN)." }),
    san: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'One subjectAltName value (DNS name, URI, email or IP), without its "DNS:" prefix.' }),
  })
  .refine((c) => (c.subject === undefined) !== (c.san === undefined), { error: 'an mtls credential names exactly one of subject or san' });

export const Credential = z.discriminatedUnion('type', [ApiKeyCredential, BasicCredential, MtlsCredential]);

// Sent upstream as header values: no control characters, and no commas inside a group name.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it rejects
const NO_CONTROL_CHARACTERS = /^[^\x00-\x1f\x7f]+$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what it rejects
const NO_COMMAS_OR_CONTROL_CHARACTERS = /^[^\x00-\x1f\x7f,]+$/;

export const Consumer = z
  .strictObject({
    id: ConsumerId,
    username: z.string().min(1).max(256).regex(NO_CONTROL_CHARACTERS, { error: 'no control characters' }).optional(),
    groups: z
      .array(
        z.string().min(1).max(128).regex(NO_COMMAS_OR_CONTROL_CHARACTERS, { error: 'a group name has no commas or control characters' }),
      )
      .default([]),
    plan: z.string().min(1).optional().meta({ description: 'Rate-limit tier name.' }),
    metadata: z.record(z.string(), z.unknown()).optional(),
    credentials: z.array(Credential).default([]),
  })
  .meta({ description: 'A caller of the APIs, with the credentials that identify it.' });

export const Consumers = z
  .array(Consumer)
  .default([])
  .meta({ description: 'Consumers and their credentials (key-auth, basic-auth, mtls; jwt maps a claim to a consumer).' });

export type ConsumerConfig = z.output<typeof Consumer>;
export type CredentialConfig = z.output<typeof Credential>;
