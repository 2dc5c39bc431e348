// A listener's TLS section is checked by loading every certificate as the listener would (issue
// 17): each problem is one `path: message` line, never a crash, and no message echoes key material.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig } from '../src/validation/validate.js';
import { makeCerts, type CertFactory, type Leaf } from './helpers/tls-certs.js';
import { runCli } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let certs: CertFactory;
let a: Leaf, b: Leaf, wild: Leaf, otherWild: Leaf, foreign: Leaf, noName: Leaf;
let p12: string;

before(() => {
  certs = makeCerts();
  a = certs.leaf('a', { dns: ['a.example', 'shared.example'] });
  b = certs.leaf('b', { dns: ['b.example', 'Shared.Example'] });
  wild = certs.leaf('wild', { dns: ['*.w.example'] });
  otherWild = certs.leaf('wild2', { dns: ['*.w.example', 'x.w.example'] });
  foreign = certs.leaf('foreign', { dns: ['f.example'], otherCa: true });
  noName = certs.leaf('noname', { cn: 'Not A Host Name' });
  p12 = certs.pkcs12(certs.leaf('p', { dns: ['p.example'] }), 'right passphrase');
});
after(() => maybeUnset(certs)?.cleanup());

function errors(tls: Record<string, unknown>, more: Record<string, unknown> = {}) {
  const r = validateConfig({ listen: [{ port: 8443, tls, ...more }] });
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('a valid section passes: PEM files, inline PEM, PKCS#12, a chain in order', () => {
  assert.deepEqual(
    errors({
      certificates: [
        { cert: a.chainPath, key: a.keyPath },
        { cert: wild.cert, key: wild.key, clientCa: certs.ca.cert },
        { pfx: p12, passphrase: 'right passphrase', default: true },
      ],
    }),
    [],
  );
  assert.deepEqual(errors({ pfx: p12, passphrase: 'right passphrase' }), []);
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, ciphers: 'TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256' }), []);
});

test('files: missing, a directory, not PEM, not a certificate, not a key — each at its path', () => {
  const dir = join(certs.dir, 'a-directory');
  mkdirSync(dir, { recursive: true });
  const notPem = certs.file('not.pem', 'hello\n');
  const badBlock = certs.file('bad-block.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  assert.deepEqual(errors({ cert: '/nonexistent/cert.pem', key: a.keyPath }), [
    'listen[0].tls.cert: cannot read /nonexistent/cert.pem: ENOENT',
  ]);
  assert.deepEqual(errors({ certificates: [{ cert: a.certPath, key: dir }] }), [
    `listen[0].tls.certificates[0].key: cannot read ${dir}: EISDIR`,
  ]);
  assert.deepEqual(errors({ cert: notPem, key: a.keyPath }), [`listen[0].tls.cert: ${notPem} is not PEM (no "-----BEGIN" line)`]);
  assert.match(errors({ cert: badBlock, key: a.keyPath })[0]!, /^listen\[0\]\.tls\.cert: certificate 1 cannot be parsed/);
  assert.match(errors({ cert: a.certPath, key: a.certPath })[0]!, /^listen\[0\]\.tls\.key: not a usable private key/);
  assert.match(errors({ cert: a.keyPath, key: a.keyPath })[0]!, /^listen\[0\]\.tls\.cert: no certificate in it/);
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, clientCa: notPem }), [
    `listen[0].tls.clientCa: ${notPem} is not PEM (no "-----BEGIN" line)`,
  ]);
});

test('a key that does not match, a broken chain, a wrong or missing passphrase', () => {
  assert.deepEqual(errors({ certificates: [{ cert: a.certPath, key: b.keyPath }] }), [
    'listen[0].tls.certificates[0].key: the key does not match the certificate (CN=a.example)',
  ]);
  // A leaf followed by a CA that did not issue it.
  const broken = certs.file('broken-chain.pem', foreign.cert + certs.ca.cert);
  assert.match(
    errors({ cert: broken, key: foreign.keyPath })[0]!,
    /^listen\[0\]\.tls\.cert: the chain is broken: certificate 2 \(CN=Gatehouse TLS Test ca\) did not issue certificate 1/,
  );
  // The CA first: the key matches no "leaf".
  const reversed = certs.file('reversed.pem', certs.ca.cert + a.cert);
  assert.equal(errors({ cert: reversed, key: a.keyPath }).length, 1);
  assert.deepEqual(errors({ pfx: p12, passphrase: 'wrong' }), ['listen[0].tls.passphrase: cannot open the PKCS#12 file: wrong passphrase']);
  assert.deepEqual(errors({ pfx: p12 }), ['listen[0].tls.passphrase: cannot open the PKCS#12 file: wrong passphrase']);
  assert.match(errors({ pfx: a.certPath })[0]!, /^listen\[0\]\.tls\.pfx: not a usable PKCS#12 file/);
  // Material where a path is expected is never echoed back.
  assert.deepEqual(errors({ pfx: a.key }), ['listen[0].tls.pfx: expected the path of a file (inline material is not accepted here)']);
});

test('an encrypted PEM key needs its passphrase', () => {
  const enc = join(certs.dir, 'enc.key');
  execFileSync('openssl', ['pkey', '-in', a.keyPath, '-aes256', '-passout', 'pass:sesame', '-out', enc]);
  assert.deepEqual(errors({ cert: a.certPath, key: enc }), ['listen[0].tls.passphrase: the key is encrypted: set passphrase']);
  assert.deepEqual(errors({ cert: a.certPath, key: enc, passphrase: 'nope' }), [
    'listen[0].tls.passphrase: cannot decrypt the key: wrong passphrase',
  ]);
  assert.deepEqual(errors({ cert: a.certPath, key: enc, passphrase: 'sesame' }), []);
});

test('a name served by two certificates is an error (exact names ignore case; wildcards too); a nameless one only as the default', () => {
  assert.deepEqual(
    errors({
      certificates: [
        { cert: a.certPath, key: a.keyPath },
        { cert: b.certPath, key: b.keyPath },
        { cert: wild.certPath, key: wild.keyPath },
        { cert: otherWild.certPath, key: otherWild.keyPath },
      ],
    }),
    [
      'listen[0].tls.certificates[1]: "shared.example" is also a name of listen[0].tls.certificates[0]: each name is served by one certificate',
      'listen[0].tls.certificates[3]: "*.w.example" is also a name of listen[0].tls.certificates[2]: each name is served by one certificate',
    ],
  );
  const nameless = [
    { cert: a.certPath, key: a.keyPath },
    { cert: noName.certPath, key: noName.keyPath },
  ];
  assert.match(
    errors({ certificates: nameless })[0]!,
    /^listen\[0\]\.tls\.certificates\[1\]: the certificate \(CN=Not A Host Name\) has no DNS name/,
  );
  assert.deepEqual(errors({ certificates: [nameless[0], { ...nameless[1], default: true }] }), []);
});

test('the shape: one form of certificate, one default, ciphers OpenSSL takes (keeping TLS 1.3), known ALPN, a TLS listener without redirectHttps', () => {
  assert.deepEqual(errors({ cert: a.certPath }), ['listen[0].tls.key: a certificate needs key beside cert (or pfx)']);
  assert.deepEqual(errors({}), ['listen[0].tls: TLS needs certificates (or the shorthand cert and key, or pfx)']);
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, certificates: [{ cert: b.certPath, key: b.keyPath }] }), [
    'listen[0].tls.cert: use either certificates or the one-certificate shorthand (cert/key, pfx), not both',
  ]);
  assert.deepEqual(errors({ certificates: [{ cert: a.certPath, key: a.keyPath, pfx: p12 }] }), [
    'listen[0].tls.certificates[0].pfx: use either cert and key, or pfx — not both',
  ]);
  assert.deepEqual(
    errors({
      certificates: [
        { cert: a.certPath, key: a.keyPath, default: true },
        { cert: b.certPath, key: b.keyPath, default: true },
      ],
    }),
    ['listen[0].tls.certificates: at most one certificate is the default'],
  );
  assert.match(
    errors({ cert: a.certPath, key: a.keyPath, ciphers: 'NOT-A-CIPHER' })[0]!,
    /^listen\[0\]\.tls\.ciphers: not a cipher list OpenSSL accepts/,
  );
  assert.match(
    errors({ cert: a.certPath, key: a.keyPath, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })[0]!,
    /^listen\[0\]\.tls\.ciphers: the list has no TLS 1\.3 suite/,
  );
  assert.match(errors({ cert: a.certPath, key: a.keyPath, minVersion: 'TLSv1.1' })[0]!, /^listen\[0\]\.tls\.minVersion: /);
  assert.match(errors({ cert: a.certPath, key: a.keyPath, alpn: ['spdy/3'] })[0]!, /^listen\[0\]\.tls\.alpn\[0\]: /);
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath, alpn: ['h2', 'h2'] }), ['listen[0].tls.alpn: a protocol is listed twice']);
  assert.deepEqual(errors({ cert: a.certPath, key: a.keyPath }, { redirectHttps: true }), [
    'listen[0].redirectHttps: a TLS listener serves HTTPS already; redirectHttps is for plain-HTTP listeners',
  ]);
});

test('gatehouse validate prints the lines and exits 1, without a stack trace or key material', async () => {
  const file = certs.file(
    'bad.yaml',
    `listen:\n  - port: 8443\n    tls:\n      certificates:\n        - { cert: ${a.certPath}, key: ${b.keyPath} }\n        - { pfx: ${p12}, passphrase: "\${P12_PASS}" }\n`,
  );
  const r = await runCli(['validate', '-c', file], { env: { ...process.env, P12_PASS: 'not it' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /listen\[0\]\.tls\.certificates\[0\]\.key: the key does not match the certificate \(CN=a\.example\)/);
  assert.match(r.stderr, /listen\[0\]\.tls\.certificates\[1\]\.passphrase: cannot open the PKCS#12 file: wrong passphrase/);
  assert.doesNotMatch(r.stderr + r.stdout, /at .*\.js:\d+|not it|PRIVATE KEY/);
});
