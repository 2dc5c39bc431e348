// `type: basic-auth` — HTTP Basic (RFC 7617) against credentials of type `basic`. Plain passwords
// are compared as SHA-256 digests in constant time; scrypt hashes are verified off the event loop,
// and a verified (credential, password digest) pair is remembered for a while so a client that
// sends the same header on every request pays for scrypt once, not per request.
import { z } from 'zod';
import { LRUCache } from 'lru-cache';
import { definePolicy, type HeaderList, type RequestContext } from '../types.js';
import { authPolicy, type Authenticator, type AuthOutcome } from '../../identity/authenticator.js';
import { findHeader, removeHeader } from '../../dataplane/header-list.js';
import { identityOf, type BasicEntry, type ConsumerRegistry } from '../../identity/registry.js';
import { sameDigest, sha256, verifyScrypt } from '../../identity/secrets.js';
import { Anonymous, Duration, HideCredentials } from '../../identity/auth-options.js';
import { parseDuration } from '../../config/units.js';

export const basicAuthSchema = z.strictObject({
  type: z.literal('basic-auth'),
  realm: z
    .string()
    .regex(/^[^"\\\r\n]*$/, { error: 'a realm cannot contain quotes, backslashes or line breaks' })
    .default('gatehouse'),
  verifiedCacheTtl: Duration.default('5m').meta({
    description: 'How long a verified scrypt password is remembered (0 = verify every time).',
  }),
  anonymous: Anonymous,
  hideCredentials: HideCredentials,
});

export type BasicAuthConfig = z.output<typeof basicAuthSchema>;

const MISSING: AuthOutcome = { ok: false, absent: true, reason: 'no Basic credentials in the request' };
const MALFORMED: AuthOutcome = { ok: false, reason: 'malformed Basic credentials' };
const UNKNOWN: AuthOutcome = { ok: false, reason: 'unknown Basic username' };
const WRONG: AuthOutcome = { ok: false, reason: 'wrong password' };
const BUSY: AuthOutcome = { ok: false, reason: 'too many password checks waiting (scrypt); refused without checking' };

/**
 * scrypt runs on libuv's small thread pool, which WebCrypto (jwt) and DNS share. Wrong passwords
 * for a known user would each cost one run: at most SCRYPT_RUNNING run at once and SCRYPT_WAITING
 * wait; beyond that a check is refused (401) rather than let the pool starve everything else.
 */
const SCRYPT_RUNNING = 2;
const SCRYPT_WAITING = 128;
let running = 0;
const waiting: (() => void)[] = [];

export async function limitedScrypt(password: string, hash: NonNullable<BasicEntry['scrypt']>): Promise<boolean | undefined> {
  if (running >= SCRYPT_RUNNING) {
    if (waiting.length >= SCRYPT_WAITING) return undefined;
    await new Promise<void>((r) => waiting.push(r));
  } else running++;
  try {
    return await verifyScrypt(password, hash);
  } finally {
    const next = waiting.shift();
    if (next)
      next(); // the slot passes on
    else running--;
  }
}

export function basicAuthenticator(config: BasicAuthConfig, consumers: ConsumerRegistry): Authenticator {
  const ttl = parseDuration(config.verifiedCacheTtl);
  const verified = ttl > 0 ? new LRUCache<string, BasicEntry>({ max: 10_000, ttl }) : undefined;
  // A password just found wrong is wrong again for a minute: repeating it costs no scrypt run. Both
  // caches hold the entry they were filled for: an admin edit replaces the entry in place (no new
  // authenticator), and a password set by it must work at once, one it replaced stop at once.
  const refused = new LRUCache<string, BasicEntry>({ max: 10_000, ttl: 60_000 });
  const ok = (e: BasicEntry): AuthOutcome => ({ ok: true, identity: identityOf(e.consumer, e.credentialId, 'basic-auth') });
  return {
    method: 'basic-auth',
    challenge: `Basic realm="${config.realm}", charset="UTF-8"`,
    authenticate(ctx: RequestContext): AuthOutcome | Promise<AuthOutcome> {
      const h = findHeader(ctx.req.rawHeaders, 'authorization');
      if (h === undefined || h.length < 6 || h.slice(0, 6).toLowerCase() !== 'basic ') return MISSING;
      const b64 = h.slice(6).trim();
      if (b64.length > 4096 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return MALFORMED;
      const decoded = Buffer.from(b64, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return MALFORMED;
      const entry = consumers.basicUser(decoded.slice(0, colon));
      const password = decoded.slice(colon + 1);
      const digest = sha256(password);
      if (entry === undefined) {
        return UNKNOWN;
      }
      if (entry.plain !== undefined) return sameDigest(digest, entry.plain) ? ok(entry) : WRONG;
      const cacheKey = `${entry.credentialId}\n${digest.toString('base64')}`;
      if (verified?.get(cacheKey) === entry) return ok(entry);
      if (refused.get(cacheKey) === entry) return WRONG;
      return limitedScrypt(password, entry.scrypt!).then((good) => {
        if (good === undefined) return BUSY;
        if (!good) {
          refused.set(cacheKey, entry);
          return WRONG;
        }
        verified?.set(cacheKey, entry);
        return ok(entry);
      });
    },
    hide(_ctx: RequestContext, out: HeaderList) {
      removeHeader(out, 'authorization');
    },
  };
}

export const basicAuthPolicy = definePolicy({
  type: 'basic-auth',
  description: 'Authenticate by HTTP Basic username and password (credential type basic).',
  schema: basicAuthSchema,
  phases: ['access', 'upstreamRequest'],
  order: 'authenticate',
  example: {},
  authenticator: (config, env) => basicAuthenticator(config, env.consumers),
  create: (config, env) => authPolicy(basicAuthenticator(config, env.consumers), config, env),
});
