// TLS termination with several certificates (issue 17): the certificate a client gets is chosen by
// the name it sends (SNI) — exact names, wildcards of one label, a CN when there is no SAN, a
// PKCS#12 bundle whose passphrase comes from ${ENV} — with a default for no SNI or an unknown name,
// or a refusal; versions, ciphers and ALPN as configured; client certificates asked for per name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { loadConfigFile } from '../src/validation/load.js';
import type { GatehouseConfig } from '../src/config/schema.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { makeCerts, type CertFactory, type Leaf } from './helpers/tls-certs.js';
import { handshake, handshakeError, httpsGet } from './helpers/tls-client.js';
import { maybeUnset } from './helpers/hooks.js';

let certs: CertFactory;
let up: Upstream;
let a: Leaf, b: Leaf, cnOnly: Leaf, p12: Leaf, fallback: Leaf;
let p12Path: string;
const gateways: TestGateway[] = [];

before(async () => {
  certs = makeCerts();
  a = certs.leaf('a', { dns: ['a.example', '*.w.example'] });
  b = certs.leaf('b', { dns: ['b.example'] });
  cnOnly = certs.leaf('cn', { cn: 'cn.example' });
  p12 = certs.leaf('p12', { dns: ['p12.example'] });
  fallback = certs.leaf('fallback', { dns: ['fallback.example'] });
  p12Path = certs.pkcs12(p12, 'pfx secret 1');
  up = await startUpstream();
});

after(async () => {
  for (const gw of gateways) await gw.stop();
  await maybeUnset(up)?.close();
  maybeUnset(certs)?.cleanup();
});

/** A gateway whose only listener has `tls` (YAML, so ${P12_PASS} is expanded by the config loader). */
async function gateway(tlsYaml: string, extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const file = join(certs.dir, `gw-${gateways.length}.yaml`);
  writeFileSync(file, `listen:\n  - port: 0\n    host: 127.0.0.1\n    tls:\n${tlsYaml.replace(/^/gm, '      ')}\n`);
  const r = await loadConfigFile(file, { P12_PASS: 'pfx secret 1' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const gw = await startTestGateway({
    listen: r.config.listen,
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'all', service: 'up' }],
    ...extra,
  });
  gateways.push(gw);
  return gw;
}

function fourCertificates(more = ''): string {
  return `certificates:
  - { cert: ${a.certPath}, key: ${a.keyPath} }
  - { cert: ${b.chainPath}, key: ${b.keyPath} }
  - { cert: ${JSON.stringify(cnOnly.cert)}, key: ${JSON.stringify(cnOnly.key)} }
  - { pfx: ${p12Path}, passphrase: "\${P12_PASS}" }
  - { cert: ${fallback.certPath}, key: ${fallback.keyPath}, default: true }
${more}`;
}

test('SNI picks the certificate: exact names, a wildcard of one label, any case, CN without SAN, PKCS#12 with an ${ENV} passphrase', async () => {
  const gw = await gateway(fourCertificates());
  const cases: [string, Leaf][] = [
    ['a.example', a],
    ['x.w.example', a],
    ['X.W.Example', a],
    ['b.example', b],
    ['B.EXAMPLE', b],
    ['cn.example', cnOnly],
    ['p12.example', p12],
    // A wildcard covers exactly one label: neither the bare domain nor two labels.
    ['w.example', fallback],
    ['y.x.w.example', fallback],
    ['nobody.example', fallback],
  ];
  for (const [name, leaf] of cases) {
    const served = await handshake(gw.port, { servername: name });
    assert.equal(served.fingerprint256, leaf.fingerprint256, `${name} → ${leaf.name} (got ${served.cn})`);
  }
  // No SNI at all (an IP address is never sent as SNI): the default.
  assert.equal((await handshake(gw.port)).fingerprint256, fallback.fingerprint256);
  // A request through the listener works with any of them.
  const res = await httpsGet(gw.port, '/x', { servername: 'p12.example' });
  assert.equal(res.status, 200);
  assert.equal((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
});

test('without `default: true` the first certificate is the default; the one-certificate shorthand still works', async () => {
  const gw = await gateway(`certificates:\n  - { cert: ${b.certPath}, key: ${b.keyPath} }\n  - { cert: ${a.certPath}, key: ${a.keyPath} }`);
  assert.equal((await handshake(gw.port)).fingerprint256, b.fingerprint256);
  assert.equal((await handshake(gw.port, { servername: 'zz.example' })).fingerprint256, b.fingerprint256);
  const short = await gateway(`cert: ${a.certPath}\nkey: ${a.keyPath}`);
  assert.equal((await handshake(short.port, { servername: 'b.example' })).fingerprint256, a.fingerprint256);
  const shortPfx = await gateway(`pfx: ${p12Path}\npassphrase: "\${P12_PASS}"`);
  assert.equal((await handshake(shortPfx.port)).fingerprint256, p12.fingerprint256);
});

test('sni.unknown: refuse — an unknown name gets the unrecognized_name alert, no SNI a handshake failure; known names are served', async () => {
  const gw = await gateway(fourCertificates('sni: { unknown: refuse }'));
  assert.equal(await handshakeError(gw.port, { servername: 'nobody.example' }), 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
  assert.match(await handshakeError(gw.port), /HANDSHAKE_FAILURE/);
  assert.equal((await handshake(gw.port, { servername: 'b.example' })).fingerprint256, b.fingerprint256);
  // The listener keeps serving after refusals.
  assert.equal((await httpsGet(gw.port, '/', { servername: 'x.w.example' })).status, 200);
  // `missing: default` keeps clients without SNI (health checkers by IP) on the default.
  const lenient = await gateway(fourCertificates('sni: { unknown: refuse, missing: default }'));
  assert.equal((await handshake(lenient.port)).fingerprint256, fallback.fingerprint256);
  assert.equal(await handshakeError(lenient.port, { servername: 'nobody.example' }), 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
});

test('minVersion: TLS 1.2 by default, TLS 1.3 when set; ciphers and ALPN as configured', async () => {
  const dflt = await gateway(`cert: ${a.certPath}\nkey: ${a.keyPath}`);
  assert.equal((await handshake(dflt.port, { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  assert.equal((await handshake(dflt.port)).protocol, 'TLSv1.3');
  assert.match(await handshakeError(dflt.port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), /VERSION|PROTOCOL/);
  // The default cipher list is forward-secret AEAD only: a CBC suite is refused.
  assert.match(await handshakeError(dflt.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }), /HANDSHAKE_FAILURE/);

  const strict = await gateway(
    `cert: ${a.certPath}\nkey: ${a.keyPath}\nminVersion: TLSv1.3\nciphers: TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-CHACHA20-POLY1305\nalpn: [http/1.1]`,
  );
  assert.match(await handshakeError(strict.port, { maxVersion: 'TLSv1.2' }), /VERSION|PROTOCOL/);
  const s = await handshake(strict.port, { ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(s.protocol, 'TLSv1.3');
  assert.equal(s.alpn, 'http/1.1');
  const chacha = await gateway(`cert: ${a.certPath}\nkey: ${a.keyPath}\nciphers: TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-CHACHA20-POLY1305`);
  assert.equal((await handshake(chacha.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' })).protocol, 'TLSv1.2');
  assert.match(await handshakeError(chacha.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), /HANDSHAKE_FAILURE/);
  // No ALPN configured: none negotiated.
  const none = await gateway(`cert: ${a.certPath}\nkey: ${a.keyPath}\nalpn: []`);
  assert.equal((await handshake(none.port, { ALPNProtocols: ['http/1.1'] })).alpn, false);
});

test('mTLS per SNI name: clientCa on one certificate asks for a client certificate there only, and the mtls policy sees it', async () => {
  const alice = certs.client('alice', 'alice');
  const mallory = certs.client('mallory', 'alice', true); // same CN, from the other CA
  const extra = {
    consumers: [{ id: 'alice', credentials: [{ type: 'mtls', subject: 'alice' }] }],
    routes: [
      { name: 'secure', match: { paths: ['/secure/*'] }, service: 'up', policies: [{ type: 'mtls' }] },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'up' },
    ],
  };
  const status = async (port: number, servername: string, client?: Leaf) =>
    (await httpsGet(port, '/secure/1', { servername, cert: client?.cert, key: client?.key })).status;
  // The default certificate (p12) asks for none; a.example and b.example do, each against its own CAs.
  const gw = await gateway(
    `certificates:
  - { cert: ${a.certPath}, key: ${a.keyPath}, clientCa: ${certs.ca.certPath} }
  - { cert: ${b.certPath}, key: ${b.keyPath} }
  - { cert: ${p12.certPath}, key: ${p12.keyPath}, requestCert: false, default: true }
  - { cert: ${JSON.stringify(cnOnly.cert)}, key: ${JSON.stringify(cnOnly.key)} }
clientCa: ${certs.otherCa.certPath}`,
    extra,
  );
  const r = await httpsGet(gw.port, '/secure/1', { servername: 'a.example', cert: alice.cert, key: alice.key });
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-consumer-id'], 'alice');
  assert.equal(await status(gw.port, 'a.example', mallory), 401);
  assert.equal(await status(gw.port, 'a.example'), 401);
  // b.example: the listener's clientCa (the other CA) applies — mallory's, not alice's.
  assert.equal(await status(gw.port, 'b.example', mallory), 200);
  assert.equal(await status(gw.port, 'b.example', alice), 401);
  // p12.example asks for no certificate: mallory's would verify against the listener's clientCa,
  // but it is never asked for, so mtls finds none.
  const none = await httpsGet(gw.port, '/secure/1', { servername: 'p12.example', cert: mallory.cert, key: mallory.key });
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Mutual/);
  // A certificate verified for one name's CAs does not vouch for a Host whose certificate has
  // other CAs (alice's CA is trusted for a.example only); a Host with the same CAs is fine.
  const misdirected = await httpsGet(gw.port, '/secure/1', {
    servername: 'a.example',
    host: 'b.example',
    cert: alice.cert,
    key: alice.key,
  });
  assert.equal(misdirected.status, 401);
  assert.equal(
    (await httpsGet(gw.port, '/secure/1', { servername: 'b.example', host: 'cn.example', cert: mallory.cert, key: mallory.key })).status,
    200,
  );
  // Routes without mtls serve everyone, with or without a certificate.
  assert.equal((await httpsGet(gw.port, '/open/1', { servername: 'a.example' })).status, 200);
  assert.equal((await httpsGet(gw.port, '/open/1', { servername: 'p12.example', cert: alice.cert, key: alice.key })).status, 200);

  // The other way round: the default asks (the server-wide setting), a name that does not stops asking.
  const gw2 = await gateway(
    `certificates:
  - { cert: ${a.certPath}, key: ${a.keyPath}, clientCa: ${certs.ca.certPath} }
  - { cert: ${p12.certPath}, key: ${p12.keyPath}, clientCa: ${certs.ca.certPath}, requestCert: false }`,
    extra,
  );
  assert.equal(await status(gw2.port, 'a.example', alice), 200);
  assert.equal(await status(gw2.port, 'p12.example', alice), 401);
});

test('passphrase and inline keys never leave through GET /config', async () => {
  const gw = await gateway(fourCertificates());
  const res = await fetch(`${gw.adminUrl}/config`);
  const text = await res.text();
  assert.ok(!text.includes('pfx secret 1'), 'passphrase shown');
  assert.ok(!text.includes(cnOnly.key.slice(40, 80)), 'inline key shown');
  const cfg = JSON.parse(text) as GatehouseConfig;
  assert.equal(cfg.listen[0]!.tls!.certificates![3]!.passphrase, '[redacted]');
});

/** A session (ticket) from a full handshake with `servername`, as a client would keep it. */
function sessionFor(port: number, servername: string, maxVersion: tls.SecureVersion): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, maxVersion, rejectUnauthorized: false });
    sock.once('session', (s: Buffer) => {
      resolve(s);
      sock.end();
    });
    sock.on('error', reject);
  });
}

/** Whether a connection offering `session` under `servername` completes, and whether it resumed. */
function resume(
  port: number,
  servername: string,
  session: Buffer,
  maxVersion: tls.SecureVersion,
): Promise<{ ok: boolean; reused: boolean }> {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, session, maxVersion, rejectUnauthorized: false }, () => {
      const reused = sock.isSessionReused();
      sock.end();
      resolve({ ok: true, reused });
    });
    sock.on('error', () => resolve({ ok: false, reused: false }));
  });
}

test('sni.unknown: refuse holds for resumed sessions: no tickets on such a listener, so one from a known name cannot open an unknown one (TLS 1.2 and 1.3)', async () => {
  const gw = await gateway(fourCertificates('sni: { unknown: refuse }'));
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const session = await sessionFor(gw.port, 'a.example', version);
    assert.deepEqual(
      await resume(gw.port, 'a.example', session, version),
      { ok: true, reused: false },
      `${version}: served, with a full handshake`,
    );
    assert.equal((await resume(gw.port, 'nobody.example', session, version)).ok, false, `${version}: the unknown name is refused`);
  }
});
