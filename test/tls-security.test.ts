// TLS termination under attack (issue 17, security review): a client certificate must vouch only
// for what it was verified for — not after the client renegotiates, not in a session resumed under
// another name or after the client CAs changed, not because a PKCS#12 bundle or node's own trust
// store added CAs; key material given where a file path belongs is never echoed; a file that would
// block the process is never read; a handshake that never finishes does not hold its connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { createPrivateKey } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { validateConfig } from '../src/validation/validate.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { makeCerts, type CertFactory, type Leaf } from './helpers/tls-certs.js';
import { maybeUnset } from './helpers/hooks.js';
import { runCli } from './helpers/child.js';

let certs: CertFactory;
let up: Upstream;
let a: Leaf, b: Leaf, alice: Leaf;
const gateways: TestGateway[] = [];

before(async () => {
  certs = makeCerts();
  a = certs.leaf('a', { dns: ['a.example'] });
  b = certs.leaf('b', { dns: ['b.example'] });
  alice = certs.client('alice', 'alice'); // issued by the first CA
  up = await startUpstream();
});

after(async () => {
  for (const gw of gateways) await gw.stop();
  await maybeUnset(up)?.close();
  maybeUnset(certs)?.cleanup();
});

const consumers = [{ id: 'alice', credentials: [{ type: 'mtls', subject: 'alice' }] }];
const routes = [{ name: 'secure', service: 'up', policies: [{ type: 'mtls' }] }];

function gatewayDoc(tlsSection: Record<string, unknown>): Record<string, unknown> {
  return { listen: [{ port: 0, host: '127.0.0.1', tls: tlsSection }], services: { up: { targets: [{ url: up.url }] } }, consumers, routes };
}

async function gateway(tlsSection: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway(gatewayDoc(tlsSection));
  gateways.push(gw);
  return gw;
}

/** a.example asks for certificates of the first CA, b.example (the default) for the second's. */
const twoPartners = () => ({
  certificates: [
    { cert: a.certPath, key: a.keyPath, clientCa: certs.ca.certPath },
    { cert: b.certPath, key: b.keyPath, clientCa: certs.otherCa.certPath, default: true },
  ],
});

interface Outcome {
  status: number;
  consumer: string | undefined;
  reused: boolean;
  session: Buffer | undefined;
}

/** One request on a new connection (SNI `servername`, Host `host`), optionally resuming `session`. */
function exchange(
  port: number,
  o: { servername: string; host: string; client?: Leaf; session?: Buffer | undefined; maxVersion: tls.SecureVersion },
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let data = '';
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      servername: o.servername,
      session: o.session,
      cert: o.client?.cert,
      key: o.client?.key,
      maxVersion: o.maxVersion,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    sock.on('session', (s: Buffer) => (session = s));
    sock.on('error', reject);
    sock.once('secureConnect', () => sock.write(`GET /x HTTP/1.1\r\nhost: ${o.host}\r\nconnection: close\r\n\r\n`));
    sock.setEncoding('utf8').on('data', (c: string) => (data += c));
    sock.on('end', () => {
      const body = data.slice(data.indexOf('\r\n\r\n') + 4);
      const consumer = data.startsWith('HTTP/1.1 200')
        ? (JSON.parse(body) as { headers: Record<string, string> }).headers['x-consumer-id']
        : undefined;
      resolve({ status: Number(data.slice(9, 12)), consumer, reused: sock.isSessionReused(), session });
    });
  });
}

test('a client cannot renegotiate (TLS 1.2): node keeps `authorized` from the first handshake while the certificate may change', async () => {
  // With renegotiation, a client holding any verified certificate renegotiated with a
  // self-signed one naming another consumer, and mtls (reading the new certificate, the old
  // verdict) took it for that consumer. Without renegotiation the certificate is fixed.
  const gw = await gateway({ cert: a.certPath, key: a.keyPath, clientCa: certs.ca.certPath });
  const sock = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'a.example',
    cert: alice.cert,
    key: alice.key,
    maxVersion: 'TLSv1.2',
    rejectUnauthorized: false,
  });
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  // A refusal reaches the client as the socket's error (its renegotiate callback is not called).
  const outcome = await new Promise<NodeJS.ErrnoException | null>((r) => {
    sock.on('error', r);
    if (!sock.renegotiate({ rejectUnauthorized: false }, r)) r(new Error('renegotiate() refused locally'));
  });
  assert.equal(outcome?.code, 'ERR_SSL_NO_RENEGOTIATION', 'the gateway accepted a client-initiated renegotiation');
  sock.destroy();
  await closed;
});

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${maxVersion}: a session resumed under another name does not bring its client certificate (verified for the first name's CAs)`, async () => {
    const gw = await gateway(twoPartners());
    const first = await exchange(gw.port, { servername: 'a.example', host: 'a.example', client: alice, maxVersion });
    assert.equal(first.status, 200);
    assert.equal(first.consumer, 'alice');
    assert.ok(first.session, 'no session to resume');
    // alice's CA is trusted for a.example only: not on b.example, directly or by resuming.
    assert.equal((await exchange(gw.port, { servername: 'b.example', host: 'b.example', client: alice, maxVersion })).status, 401);
    const crossed = await exchange(gw.port, { servername: 'b.example', host: 'b.example', session: first.session, maxVersion });
    assert.equal(crossed.status, 401, `resumed: ${crossed.reused}, consumer ${crossed.consumer}`);
    // alice herself, coming back to a.example with her session, is served.
    const back = await exchange(gw.port, { servername: 'a.example', host: 'a.example', client: alice, session: first.session, maxVersion });
    assert.equal(back.status, 200);
    assert.equal(back.consumer, 'alice');
  });
}

test('sessions still resume on a listener whose certificates all verify clients alike', async () => {
  const gw = await gateway({
    certificates: [
      { cert: a.certPath, key: a.keyPath },
      { cert: b.certPath, key: b.keyPath },
    ],
    clientCa: certs.ca.certPath,
  });
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const first = await exchange(gw.port, { servername: 'a.example', host: 'a.example', client: alice, maxVersion });
    const again = await exchange(gw.port, { servername: 'a.example', host: 'a.example', session: first.session, maxVersion });
    assert.equal(again.reused, true, maxVersion);
    assert.equal(again.consumer, 'alice', maxVersion);
  }
});

/**
 * One connection by `openssl s_client` (SNI `servername`, none when empty), saving its session to
 * `sessOut` or offering the one in `sessIn`: 'new', 'reused', or 'refused' (an alert). Not node's
 * TLS client: on Node 20 (OpenSSL 3.0) it crashes the process when a handshake that offered a
 * session ends in an alert — the very case tested here.
 */
async function sClient(
  port: number,
  servername: string,
  version: string,
  session: { in?: string; out?: string },
): Promise<'new' | 'reused' | 'refused'> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, version, '-ign_eof'];
  args.push(...(servername === '' ? ['-noservername'] : ['-servername', servername]));
  if (session.in !== undefined) args.push('-sess_in', session.in);
  if (session.out !== undefined) args.push('-sess_out', session.out);
  // Asynchronous: the gateway answers from this process.
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  child.stdin.end('GET / HTTP/1.1\r\nhost: a.example\r\nconnection: close\r\n\r\n');
  const timer = setTimeout(() => child.kill(), 10_000);
  await new Promise((r) => child.once('close', r));
  clearTimeout(timer);
  if (/alert/i.test(out)) return 'refused';
  if (/^Reused, /m.test(out)) return 'reused';
  if (/^New, /m.test(out)) return 'new';
  throw new Error(`openssl s_client: ${out}`);
}

test('sni.unknown / sni.missing refuse: a session from a known name never resumes under an unknown name or without SNI', async () => {
  const gw = await gateway({ certificates: [{ cert: a.certPath, key: a.keyPath }], sni: { unknown: 'refuse' } });
  for (const version of ['-tls1_3', '-tls1_2']) {
    const saved = join(certs.dir, `session${version}.pem`);
    assert.equal(await sClient(gw.port, 'a.example', version, { out: saved }), 'new', version);
    assert.equal(await sClient(gw.port, 'nobody.example', version, { in: saved }), 'refused', `${version}: resumed under an unknown name`);
    assert.equal(await sClient(gw.port, '', version, { in: saved }), 'refused', `${version}: resumed without SNI`);
  }
});

test('a reload that changes the client CAs ends the sessions whose certificates the old CAs verified; other reloads keep them', async () => {
  const gw = await gateway({ cert: a.certPath, key: a.keyPath, clientCa: certs.ca.certPath });
  const post = async (tlsSection: Record<string, unknown>) => {
    const res = await request(`${gw.adminUrl}/config`, { method: 'POST', body: JSON.stringify(testConfig(gatewayDoc(tlsSection))) });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
  };
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    await post({ cert: a.certPath, key: a.keyPath, clientCa: certs.ca.certPath });
    const first = await exchange(gw.port, { servername: 'a.example', host: 'a.example', client: alice, maxVersion });
    assert.equal(first.consumer, 'alice');
    // The same CAs (the certificate read again): the session resumes.
    await post({ cert: a.certPath, key: a.keyPath, clientCa: certs.ca.certPath, minVersion: 'TLSv1.2' });
    const kept = await exchange(gw.port, { servername: 'a.example', host: 'a.example', session: first.session, maxVersion });
    assert.equal(kept.reused, true, `${maxVersion}: a reload without a CA change ended the session`);
    // alice's CA removed (say, compromised): her session must not outlive it.
    await post({ cert: a.certPath, key: a.keyPath, clientCa: certs.otherCa.certPath });
    const after = await exchange(gw.port, { servername: 'a.example', host: 'a.example', session: first.session, maxVersion });
    assert.equal(after.status, 401, `${maxVersion}: resumed ${after.reused} as ${after.consumer}`);
  }
});

function errors(tlsSection: Record<string, unknown>): string[] {
  const r = validateConfig({ listen: [{ port: 8443, tls: tlsSection }] });
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test("a PKCS#12 certificate cannot ask for client certificates: node would trust the bundle's CAs for them", async () => {
  const p12 = certs.pkcs12(a, 'pw'); // a.example and the CA that issued it, as exported with its chain
  const message = /^listen\[0\]\.tls(\.certificates\[0\])?\.pfx: a PKCS#12 certificate cannot ask for client certificates/;
  assert.match(errors({ pfx: p12, passphrase: 'pw', clientCa: certs.otherCa.certPath }).join('\n'), message);
  assert.match(errors({ certificates: [{ pfx: p12, passphrase: 'pw' }], clientCa: certs.otherCa.certPath }).join('\n'), message);
  // The listener's clientCa for the others, none asked for on the bundle's name: fine.
  assert.deepEqual(
    errors({
      certificates: [
        { pfx: p12, passphrase: 'pw', requestCert: false },
        { cert: b.certPath, key: b.keyPath },
      ],
      clientCa: certs.otherCa.certPath,
    }),
    [],
  );
  // What it prevents: with only the second CA named, a client certificate from the first (which
  // issued the server certificate in the bundle) was accepted. Such a listener does not start.
  await assert.rejects(
    startTestGateway(gatewayDoc({ pfx: p12, passphrase: 'pw', clientCa: certs.otherCa.certPath })),
    /cannot ask for client certificates/,
  );
});

test("requestCert needs clientCa: otherwise client certificates are verified against node's whole trust store", () => {
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, requestCert: true }), [
    'listen[0].tls.requestCert: asking for client certificates needs clientCa: without it they are verified against every CA node trusts (its public root list, NODE_EXTRA_CA_CERTS), so any of those could vouch for a consumer',
  ]);
  assert.deepEqual(errors({ certificates: [{ cert: a.certPath, key: a.keyPath, requestCert: true }] }).length, 1);
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, requestCert: true, clientCa: certs.ca.certPath }), []);
});

test('a key given as one line of base64 where a file path belongs is not echoed in the error', () => {
  const der = createPrivateKey(alice.key).export({ format: 'der', type: 'sec1' }).toString('base64');
  const found = errors({ cert: a.certPath, key: der });
  assert.equal(found.length, 1);
  assert.ok(!found[0]!.includes(der.slice(8, 40)), found[0]);
  assert.match(found[0]!, /^listen\[0\]\.tls\.key: /);
  // A path is still named.
  assert.deepEqual(errors({ cert: a.certPath, key: '/nonexistent/tls.key' }), [
    'listen[0].tls.key: cannot read /nonexistent/tls.key: ENOENT',
  ]);
});

test('a certificate path naming a FIFO or a huge file is refused before it is read (reading would stop the process)', async () => {
  // A renewal that swaps a FIFO (or a device) in would block the event loop in readFileSync: the
  // process would stop serving. `gatehouse validate` runs the same loading code in a child.
  const fifo = join(certs.dir, 'tls.fifo');
  execFileSync('mkfifo', [fifo]);
  const file = join(certs.dir, 'fifo.json');
  writeFileSync(file, JSON.stringify({ listen: [{ port: 8443, tls: { cert: fifo, key: a.keyPath } }] }));
  const r = await runCli(['validate', '-c', file]);
  assert.equal(r.signal, null, 'validate hung reading the FIFO');
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /listen\[0\]\.tls\.cert: .*tls\.fifo is not a regular file/);
  const big = certs.file('big.pem', a.cert + 'x'.repeat(1024 * 1024));
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, clientCa: big }), [
    `listen[0].tls.clientCa: ${big} is larger than 1 MiB (${String(1024 * 1024 + a.cert.length)} bytes): not a certificate or key file`,
  ]);
});

test('a TLS connection whose handshake never finishes is closed once server.headersTimeout has passed', { timeout: 60_000 }, async () => {
  // https.Server hands a handshake timeout to 'clientError', whose HTTP 408 answer could never be
  // encrypted: the socket waited for it forever, so silent connections piled up unbounded.
  const gw = await startTestGateway({
    ...gatewayDoc({ cert: a.certPath, key: a.keyPath }),
    server: { headersTimeout: '1s', requestTimeout: '2s' },
  });
  gateways.push(gw);
  const closes = (first: Buffer | undefined) =>
    new Promise<number>((resolve) => {
      let received = 0;
      const sock = net.connect(gw.port, '127.0.0.1', () => {
        if (first) sock.write(first);
      });
      sock.on('data', (d: Buffer) => (received += d.length));
      sock.on('error', () => {});
      sock.on('close', () => resolve(received));
    });
  // Nothing at all, and the first bytes of a ClientHello record (its header and one byte).
  const received = await Promise.all([closes(undefined), closes(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))]);
  assert.deepEqual(received, [0, 0], 'no HTTP answer is sent in the clear');
  // The listener still serves.
  assert.equal((await exchange(gw.port, { servername: 'a.example', host: 'a.example', maxVersion: 'TLSv1.3' })).status, 401);
});
