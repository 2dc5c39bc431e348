// How `gatehouse start` announces its listeners: a TLS listener is an https:// URL, in the start-up
// line and in the "gatehouse started" log line, and that URL really answers over TLS.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startChild, killAllChildren, tempDir, type TempDir } from './helpers/child.js';
import { makePki, type TestPki } from './helpers/certs.js';

let dir: TempDir;
let pki: TestPki;
before(async () => {
  dir = await tempDir();
  pki = makePki();
});
after(async () => {
  await killAllChildren();
  await dir.remove();
  pki.cleanup();
});

test('a TLS listener is announced as https://, a plain one as http://', async () => {
  const file = await dir.file(
    'tls.yaml',
    `
log: { level: info }
accessLog: false
listen:
  - { port: 0, host: 127.0.0.1 }
  - { port: 0, host: 127.0.0.1, tls: { cert: ${JSON.stringify(pki.server.certPath)}, key: ${JSON.stringify(pki.server.keyPath)} } }
admin: { port: 0, host: 127.0.0.1 }
services:
  up: { targets: [{ url: "http://127.0.0.1:9" }] }
routes:
  - { name: up, match: { paths: ["/up/*"] }, service: up }
`,
  );
  const gw = await startChild(file);
  const line = /serving on (.*?); admin on/.exec(gw.stderr);
  assert.ok(line, gw.stderr);
  const [plain, secure] = line[1]!.split(', ');
  assert.match(plain!, /^http:\/\/127\.0\.0\.1:\d+$/, line[0]);
  assert.match(secure!, /^https:\/\/127\.0\.0\.1:\d+$/, line[0]);

  // The log line says the same.
  const started = gw.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; listeners?: { url?: string }[] })
    .find((l) => l.msg === 'gatehouse started');
  assert.ok(started, gw.stderr);
  assert.deepEqual(
    started.listeners?.map((l) => l.url),
    [plain, secure],
  );

  // And the https URL is the TLS listener: it answers a TLS client (404: no route for /).
  const dispatcher = new Agent({ connect: { ca: pki.ca.cert } });
  try {
    const res = await request(`${secure}/`, { dispatcher });
    assert.equal(res.statusCode, 404);
    await res.body.dump();
  } finally {
    await dispatcher.close();
  }
  await gw.kill();
});
