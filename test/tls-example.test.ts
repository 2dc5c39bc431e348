// The example in examples/tls-sni works as its README says: its script makes the certificates, the
// config validates with them, each name gets its certificate, the partner's needs a client
// certificate, unknown names are refused and plain HTTP is redirected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { request } from 'undici';
import { loadConfigFile } from '../src/validation/load.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { handshakeError, handshake, httpsGet } from './helpers/tls-client.js';
import { tempDir, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

const example = new URL('../../examples/tls-sni/', import.meta.url).pathname;
let dir: TempDir;
let web: Upstream, partner: Upstream;
let gw: TestGateway;

before(async () => {
  dir = await tempDir();
  execFileSync('sh', [join(example, 'make-certs.sh'), dir.path], {
    env: { ...process.env, SITE_P12_PASSWORD: 'example pass' },
    stdio: 'pipe',
  });
  web = await startUpstream((_req, res) => res.end('web'));
  partner = await startUpstream((_req, res) => res.end('partner'));
  const r = await loadConfigFile(join(example, 'gatehouse.yaml'), {
    CERT_DIR: dir.path,
    SITE_P12_PASSWORD: 'example pass',
    WEB_URL: web.url,
    PARTNER_URL: partner.url,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const { listen, services, routes, consumers } = r.config;
  gw = await startTestGateway({ listen: listen.map((l) => ({ ...l, port: 0, host: '127.0.0.1' })), services, routes, consumers });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(web)?.close();
  await maybeUnset(partner)?.close();
  await maybeUnset(dir)?.remove();
});

test('examples/tls-sni: certificates by name, mTLS on the partner name, refusal of unknown names, the redirect', async () => {
  const tlsPort = gw.listeners[1]!.port;
  const site = new X509Certificate(readFileSync(join(dir.path, 'site.pem'))).fingerprint256;
  assert.equal((await handshake(tlsPort, { servername: 'www.example.test' })).fingerprint256, site);
  assert.equal((await handshake(tlsPort)).fingerprint256, site);
  assert.equal((await handshake(tlsPort, { servername: 'api.partner.test' })).cn, 'partner');
  assert.equal(await handshakeError(tlsPort, { servername: 'other.test' }), 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');

  assert.equal((await httpsGet(tlsPort, '/', { servername: 'www.example.test' })).body, 'web');
  const client = {
    cert: readFileSync(join(dir.path, 'partner-client.pem'), 'utf8'),
    key: readFileSync(join(dir.path, 'partner-client.key'), 'utf8'),
  };
  assert.equal((await httpsGet(tlsPort, '/', { servername: 'api.partner.test', ...client })).body, 'partner');
  assert.equal((await httpsGet(tlsPort, '/', { servername: 'api.partner.test' })).status, 401);

  const res = await request(`http://127.0.0.1:${gw.listeners[0]!.port}/a?b=1`, { headers: { host: 'www.example.test' } });
  await res.body.dump();
  assert.equal(res.statusCode, 308);
  assert.equal(res.headers.location, 'https://www.example.test:8443/a?b=1');
});
