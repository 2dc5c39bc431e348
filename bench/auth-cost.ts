// In-process cost of one authentication, without HTTP: key-auth, jwt with the verified-token
// cache (the steady state), and jwt verifying every time (cache off). Complements the end-to-end
// scenarios, whose ratios are noisy on a shared machine.
// Run: npx tsc -p . && node dist/bench/auth-cost.js
import { createHmac } from 'node:crypto';
import { jwtAuthenticator, jwtSchema } from '../src/policies/jwt/jwt.js';
import { keyAuthenticator, keyAuthSchema } from '../src/policies/key-auth/key-auth.js';
import { ConsumerRegistry } from '../src/identity/registry.js';
import type { Authenticator } from '../src/identity/authenticator.js';
import type { RequestContext } from '../src/policies/types.js';

const registry = new ConsumerRegistry([{ id: 'bench', groups: [], credentials: [{ type: 'api-key', key: 'bench-key-0123456789' }] }]);
const secret = 'bench-hmac-secret-0123456789abcdef0123';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'bench', iss: 'https://bench.test', aud: 'bench', iat: now, exp: now + 86_400 })}`;
const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
const jwtConfig = (cache: string) =>
  jwtSchema.parse({
    type: 'jwt',
    algorithms: ['HS256'],
    keys: [{ secret }],
    issuer: 'https://bench.test',
    audience: 'bench',
    verifiedCacheTtl: cache,
  });
const ctx = (rawHeaders: string[]) => ({ req: { rawHeaders }, method: 'GET' }) as unknown as RequestContext;

async function perCall(name: string, a: Authenticator, c: RequestContext, n: number): Promise<void> {
  for (let i = 0; i < 1000; i++) await a.authenticate(c); // warm-up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = a.authenticate(c);
    const out = r instanceof Promise ? await r : r;
    if (!out.ok) throw new Error(`${name}: ${out.reason}`);
  }
  console.log(`${name.padEnd(22)} ${(Number(process.hrtime.bigint() - t) / 1e3 / n).toFixed(1)} µs per request`);
}

await perCall(
  'key-auth',
  keyAuthenticator(keyAuthSchema.parse({ type: 'key-auth' }), registry),
  ctx(['Host', 'x', 'x-api-key', 'bench-key-0123456789']),
  200_000,
);
await perCall(
  'jwt (cached)',
  jwtAuthenticator(jwtConfig('60s'), registry),
  ctx(['Host', 'x', 'Authorization', `Bearer ${token}`]),
  200_000,
);
await perCall(
  'jwt (verify each time)',
  jwtAuthenticator(jwtConfig('0s'), registry),
  ctx(['Host', 'x', 'Authorization', `Bearer ${token}`]),
  20_000,
);
