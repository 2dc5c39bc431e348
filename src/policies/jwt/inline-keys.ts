// Keys written in the config: PEM, JWK or an HMAC secret, imported once at compile time. A key is
// only ever offered for the algorithm family it belongs to, so a public key can never be used as
// an HMAC secret (HS/RS confusion); jose checks the same again.
import { createPublicKey, createSecretKey, type KeyObject, type JsonWebKey } from 'node:crypto';
import type { JWSHeaderParameters } from 'jose';
import { z } from 'zod';

export const InlineKey = z
  .strictObject({
    kid: z.string().min(1).optional(),
    alg: z.string().min(1).optional().meta({ description: 'Restrict this key to one algorithm.' }),
    pem: z.string().min(1).optional().meta({ description: 'A PEM public key or certificate (RS*, PS*, ES*, EdDSA).' }),
    jwk: z.record(z.string(), z.unknown()).optional().meta({ description: 'A public JWK, or an "oct" JWK for HS*.' }),
    secret: z.string().min(1).optional().meta({ description: 'An HMAC secret (HS*), as UTF-8 text; ${ENV} recommended.' }),
  })
  .refine((k) => [k.pem, k.jwk, k.secret].filter((x) => x !== undefined).length === 1, {
    error: 'a key has exactly one of pem, jwk or secret',
  });

export type InlineKeyConfig = z.output<typeof InlineKey>;

interface Loaded {
  kid: string | undefined;
  alg: string | undefined;
  key: KeyObject;
  family: string;
}

/** The algorithm family a key object can verify: "HS", "RSA" (RS/PS), "EC:P-256"..., "OKP". */
function familyOf(key: KeyObject): string {
  if (key.type === 'secret') return 'HS';
  const t = key.asymmetricKeyType;
  if (t === 'rsa' || t === 'rsa-pss') return 'RSA';
  if (t === 'ec') return `EC:${key.asymmetricKeyDetails?.namedCurve ?? ''}`;
  if (t === 'ed25519' || t === 'ed448') return 'OKP';
  return t ?? 'unknown';
}

const ALG_FAMILY: Record<string, string> = {
  HS256: 'HS',
  HS384: 'HS',
  HS512: 'HS',
  RS256: 'RSA',
  RS384: 'RSA',
  RS512: 'RSA',
  PS256: 'RSA',
  PS384: 'RSA',
  PS512: 'RSA',
  ES256: 'EC:prime256v1',
  ES384: 'EC:secp384r1',
  ES512: 'EC:secp521r1',
  EdDSA: 'OKP',
  Ed25519: 'OKP',
};

export const ALGORITHMS = Object.keys(ALG_FAMILY) as [string, ...string[]];

export function loadKey(k: InlineKeyConfig): Loaded {
  let key: KeyObject;
  if (k.secret !== undefined) key = createSecretKey(Buffer.from(k.secret, 'utf8'));
  else if (k.pem !== undefined) key = createPublicKey(k.pem);
  else if (k.jwk!.kty === 'oct') key = createSecretKey(Buffer.from(typeof k.jwk!.k === 'string' ? k.jwk!.k : '', 'base64url'));
  else key = createPublicKey({ key: k.jwk as JsonWebKey, format: 'jwk' });
  return {
    kid: k.kid ?? (typeof k.jwk?.kid === 'string' ? k.jwk.kid : undefined),
    alg: k.alg ?? (typeof k.jwk?.alg === 'string' ? k.jwk.alg : undefined),
    key,
    family: familyOf(key),
  };
}

export function keyProblem(k: InlineKeyConfig): string | undefined {
  try {
    const l = loadKey(k);
    if (l.key.type === 'private') return 'give the public key, never the private one';
    if (l.family === 'HS' && l.key.symmetricKeySize! < 32 && k.secret !== undefined) return 'an HMAC secret needs at least 32 bytes';
    return undefined;
  } catch (err) {
    return `cannot read the key: ${(err as Error).message.split('\n')[0]}`;
  }
}

export class InlineKeys {
  private readonly keys: Loaded[];
  constructor(configs: readonly InlineKeyConfig[]) {
    this.keys = configs.map(loadKey);
  }

  get size(): number {
    return this.keys.length;
  }

  /**
   * The key for this token header, or undefined: by kid when the token names one, always by
   * algorithm family. A key without kid stands in for a token's unknown kid only when
   * `unnamedForAnyKid` (no other key source could know that kid).
   */
  find(header: JWSHeaderParameters, unnamedForAnyKid = true): KeyObject | undefined {
    const alg = header.alg ?? '';
    const family = ALG_FAMILY[alg];
    if (family === undefined) return undefined;
    let fallback: KeyObject | undefined;
    for (const k of this.keys) {
      if (k.family !== family || (k.alg !== undefined && k.alg !== alg)) continue;
      if (header.kid !== undefined && k.kid === header.kid) return k.key;
      if (header.kid === undefined || (k.kid === undefined && unnamedForAnyKid)) fallback ??= k.key;
    }
    return fallback;
  }
}
