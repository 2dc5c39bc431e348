// Certificates change without a restart (issue 17): files rewritten in place (certbot), a
// Kubernetes secret's `..data` symlink swapped, found by the directory watch or, with the watch
// off, by the poll; a new file that cannot be used (unparseable, a key that does not match, already
// expired) keeps the current certificate and says why in GET /certificates; a config reload
// replaces the certificate list; connections already open keep working. GET /certificates and the
// expiry gauge follow every change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { makeCerts, type CertFactory, type Leaf } from './helpers/tls-certs.js';
import { handshake } from './helpers/tls-client.js';
import { secretDir, type SecretDir } from './helpers/secret-dir.js';
import { waitFor } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

interface Shown {
  listener: string;
  at: string;
  default: boolean;
  subject: string;
  names: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  expiresInSeconds: number;
  serialNumber: string;
  fingerprint256: string;
  files: string[];
  reloadError?: { message: string };
}

let certs: CertFactory;
let up: Upstream;
let b1: Leaf, b2: Leaf, b3: Leaf, k1: Leaf, k2: Leaf, k3: Leaf, expired: Leaf, a: Leaf, c: Leaf;
let secret: SecretDir;
let gw: TestGateway;
let partial: Record<string, unknown>;

const fp = async (port: number, servername: string) => (await handshake(port, { servername })).fingerprint256;
const shown = async (g: TestGateway) =>
  ((await (await request(`${g.adminUrl}/certificates`)).body.json()) as { certificates: Shown[] }).certificates;
const metrics = async (g: TestGateway) => (await request(`${g.adminUrl}/metrics`)).body.text();

before(async () => {
  certs = makeCerts();
  a = certs.leaf('a', { dns: ['a.example'] });
  b1 = certs.leaf('b1', { dns: ['b.example'] });
  b2 = certs.leaf('b2', { dns: ['b.example', 'www.b.example'] });
  b3 = certs.leaf('b3', { dns: ['b.example'] });
  k1 = certs.leaf('k1', { dns: ['k.example'] });
  k2 = certs.leaf('k2', { dns: ['k.example'] });
  k3 = certs.leaf('k3', { dns: ['k.example'] });
  c = certs.leaf('c', { dns: ['c.example'] });
  expired = certs.leaf('expired', { dns: ['b.example'], days: -1 });
  writeFileSync(join(certs.dir, 'live-b.pem'), b1.cert);
  writeFileSync(join(certs.dir, 'live-b.key'), b1.key);
  secret = secretDir(join(certs.dir, 'secret'), k1.cert, k1.key);
  up = await startUpstream();
  partial = {
    listen: [
      {
        port: 0,
        host: '127.0.0.1',
        tls: {
          certificates: [
            { cert: a.cert, key: a.key },
            { cert: join(certs.dir, 'live-b.pem'), key: join(certs.dir, 'live-b.key') },
            { cert: secret.certPath, key: secret.keyPath },
          ],
          pollInterval: 0, // only the directory watch: the poll has its own test
        },
      },
    ],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'all', service: 'up' }],
  };
  gw = await startTestGateway(partial);
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  maybeUnset(certs)?.cleanup();
});

test('GET /certificates: every certificate with its names, issuer, validity, fingerprint, listener and default', async () => {
  const list = await shown(gw);
  assert.equal(list.length, 3);
  const [first, second, third] = list as [Shown, Shown, Shown];
  assert.equal(first.listener, `127.0.0.1:${gw.port}`);
  assert.equal(first.at, 'listen[0].tls.certificates[0]');
  assert.equal(first.default, true);
  assert.equal(second.default, false);
  assert.deepEqual(first.names, ['a.example']);
  assert.equal(first.subject, 'CN=a.example');
  assert.match(first.issuer, /CN=Gatehouse TLS Test ca/);
  assert.equal(first.fingerprint256, a.fingerprint256);
  assert.deepEqual(first.files, []); // inline PEM
  assert.deepEqual(second.files, [join(certs.dir, 'live-b.pem'), join(certs.dir, 'live-b.key')]);
  assert.ok(Date.parse(first.notAfter) > Date.now() + 29 * 86_400_000 && Date.parse(first.notBefore) <= Date.now());
  assert.ok(first.expiresInSeconds > 29 * 86_400 && first.expiresInSeconds <= 30 * 86_400);
  assert.match(first.serialNumber, /^[0-9A-F]+$/);
  assert.equal(third.fingerprint256, k1.fingerprint256);
  const text = await metrics(gw);
  const line = new RegExp(
    `gatehouse_tls_certificate_expiry_seconds\\{listener="127.0.0.1:${gw.port}",name="a.example",fingerprint="${a.fingerprint256}"\\} (\\d+)`,
  );
  const m = line.exec(text);
  assert.ok(
    m,
    text
      .split('\n')
      .filter((l) => l.includes('certificate'))
      .join('\n'),
  );
  assert.ok(Number(m[1]) > 29 * 86_400 && Number(m[1]) <= 30 * 86_400);
});

test('files rewritten in place are served from the next handshake; a connection already open keeps working', async () => {
  // A keep-alive HTTPS connection made before the change.
  const sock = tls.connect({ host: '127.0.0.1', port: gw.port, servername: 'b.example', rejectUnauthorized: false });
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  const ask = () =>
    new Promise<string>((resolve) => {
      let got = '';
      const onData = (d: Buffer) => {
        got += d.toString('latin1');
        if (/\r\n\r\n[\s\S]*\}$/.test(got)) {
          sock.off('data', onData);
          resolve(got.slice(0, 12));
        }
      };
      sock.on('data', onData);
      sock.write('GET /keep HTTP/1.1\r\nHost: b.example\r\n\r\n');
    });
  assert.equal(await ask(), 'HTTP/1.1 200');
  writeFileSync(join(certs.dir, 'live-b.key'), b2.key);
  writeFileSync(join(certs.dir, 'live-b.pem'), b2.cert);
  await waitFor('the rewritten certificate', async () => (await fp(gw.port, 'b.example')) === b2.fingerprint256, 10_000);
  assert.equal(await fp(gw.port, 'www.b.example'), b2.fingerprint256); // its new name is indexed too
  assert.equal(await ask(), 'HTTP/1.1 200');
  assert.equal(sock.getPeerCertificate().fingerprint256, b1.fingerprint256);
  sock.destroy();
  const list = await shown(gw);
  assert.equal(list[1]!.fingerprint256, b2.fingerprint256);
  assert.equal(list[1]!.reloadError, undefined);
  const text = await metrics(gw);
  assert.ok(text.includes(`fingerprint="${b2.fingerprint256}"`));
  assert.ok(!text.includes(`fingerprint="${b1.fingerprint256}"`), 'the replaced certificate left the gauge');
});

test("a Kubernetes secret's ..data symlink swap is picked up by the directory watch", async () => {
  secret.swap(k2.cert, k2.key);
  await waitFor('the swapped secret', async () => (await fp(gw.port, 'k.example')) === k2.fingerprint256, 10_000);
});

test('a bad new file keeps the current certificate: unparseable, a key that does not match, an expired certificate', async () => {
  const current = await fp(gw.port, 'b.example');
  const certPath = join(certs.dir, 'live-b.pem');
  const keyPath = join(certs.dir, 'live-b.key');
  const failure = async (pattern: RegExp) =>
    waitFor(
      `a reloadError matching ${pattern}`,
      async () => {
        const e = (await shown(gw))[1]!.reloadError;
        return e !== undefined && pattern.test(e.message) ? e.message : undefined;
      },
      10_000,
    );

  writeFileSync(certPath, 'this is not a certificate\n');
  assert.match(await failure(/not PEM/), /^listen\[0\]\.tls\.certificates\[1\]\.cert: /);
  assert.equal(await fp(gw.port, 'b.example'), current);

  writeFileSync(certPath, b3.cert); // the key on disk is still b2's
  assert.match(await failure(/does not match/), /certificates\[1\]\.key: the key does not match the certificate \(CN=b\.example\)/);
  assert.equal(await fp(gw.port, 'b.example'), current);

  writeFileSync(keyPath, expired.key);
  writeFileSync(certPath, expired.cert);
  await failure(/expired/);
  assert.equal(await fp(gw.port, 'b.example'), current);

  // Good files again: served, and the error is gone.
  writeFileSync(keyPath, b3.key);
  writeFileSync(certPath, b3.cert);
  await waitFor('the good file', async () => (await fp(gw.port, 'b.example')) === b3.fingerprint256, 10_000);
  assert.equal((await shown(gw))[1]!.reloadError, undefined);
});

test('with the watch off, the poll finds the change (mtime/inode)', async () => {
  const polled = await startTestGateway({
    ...partial,
    listen: [{ port: 0, host: '127.0.0.1', tls: { cert: secret.certPath, key: secret.keyPath, watch: false, pollInterval: '100ms' } }],
  });
  try {
    const before = await fp(polled.port, 'k.example');
    secret.swap(k3.cert, k3.key);
    await waitFor('the polled change', async () => (await fp(polled.port, 'k.example')) === k3.fingerprint256, 10_000);
    assert.notEqual(before, k3.fingerprint256);
  } finally {
    await polled.stop();
  }
});

test('a config reload replaces the certificates of a running listener; listener changes still need a restart', async () => {
  const post = async (doc: Record<string, unknown>) => {
    const res = await request(`${gw.adminUrl}/config`, { method: 'POST', body: JSON.stringify(testConfig(doc)) });
    return {
      status: res.statusCode,
      body: (await res.body.json()) as { error?: { code: string; details: { path: string; message: string }[] } },
    };
  };
  const listener = (tlsSection: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
    ...partial,
    listen: [{ port: 0, host: '127.0.0.1', tls: tlsSection, ...more }],
  });
  const certificates = [
    { cert: c.cert, key: c.key },
    { cert: a.cert, key: a.key },
  ];
  let r = await post(listener({ certificates, sni: { unknown: 'refuse', missing: 'default' } }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(await fp(gw.port, 'c.example'), c.fingerprint256);
  assert.equal(await fp(gw.port, 'a.example'), a.fingerprint256);
  assert.equal((await handshake(gw.port)).fingerprint256, c.fingerprint256); // the new default
  await assert.rejects(handshake(gw.port, { servername: 'b.example' }), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' });
  assert.deepEqual(
    (await shown(gw)).map((s) => s.fingerprint256),
    [c.fingerprint256, a.fingerprint256],
  );
  // A certificate that cannot be used refuses the whole reload, and the current one keeps serving.
  r = await post(listener({ certificates: [{ cert: c.cert, key: b1.key }] }));
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.error?.details, [
    { path: 'listen[0].tls.certificates[0].key', message: 'the key does not match the certificate (CN=c.example)' },
  ]);
  assert.equal(await fp(gw.port, 'a.example'), a.fingerprint256);
  // Turning TLS off, changing ALPN or another listener field needs a restart.
  for (const doc of [
    { ...partial, listen: [{ port: 0, host: '127.0.0.1' }] },
    listener({ certificates, alpn: ['http/1.1'] }),
    listener({ certificates }, { host: '127.0.0.2' }),
  ]) {
    r = await post(doc);
    assert.equal(r.status, 409, JSON.stringify(doc));
    assert.equal(r.body.error?.code, 'CONFIG_RESTART_REQUIRED');
  }
});
