// WebSockets over TLS on either side: a wss:// client on a TLS listener, and a service reached over
// TLS (an https:// target: the gateway speaks wss to it). Certificates are made by openssl at test
// time; the gateway that talks to the TLS service runs as a child process trusting the test CA
// (NODE_EXTRA_CA_CERTS), as a deployment with a private CA would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { makeCerts, type CertFactory } from './helpers/tls-certs.js';
import { startTestGateway } from './helpers/gateway.js';
import { startWsUpstream, type WsUpstream } from './helpers/ws-upstream.js';
import { closed, connect, nextMessage } from './helpers/ws-client.js';
import { killAllChildren, startChild, tempDir, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let certs: CertFactory;
let dir: TempDir;
let plainUp: WsUpstream;
before(async () => {
  certs = makeCerts();
  dir = await tempDir();
  plainUp = await startWsUpstream();
});
after(async () => {
  await killAllChildren();
  await maybeUnset(plainUp)?.close();
  await maybeUnset(dir)?.remove();
  maybeUnset(certs)?.cleanup();
});

test('wss:// client on a TLS listener: the handshake, echo and close go through the https server', async () => {
  const leaf = certs.leaf('gw', { dns: ['localhost'] });
  const gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', tls: { cert: leaf.certPath, key: leaf.keyPath } }],
    services: { svc: { targets: [{ url: plainUp.url }] } },
    routes: [{ name: 'chat', service: 'svc', websocket: true }],
  });
  try {
    const c = await connect(`wss://localhost:${gw.port}/secure`, { ca: certs.ca.cert });
    c.send('over tls');
    assert.equal((await nextMessage(c)).data.toString(), 'over tls');
    assert.equal(plainUp.handshakes.at(-1)!.headers['x-forwarded-proto'], 'https');
    c.close(1000);
    assert.equal((await closed(c)).code, 1000);
  } finally {
    await gw.stop();
  }
});

test('an https:// target: the gateway opens the WebSocket to the service over TLS', async () => {
  const leaf = certs.leaf('service', { dns: ['localhost'] });
  const server = https.createServer({ cert: leaf.cert, key: leaf.key });
  const wss = new WebSocketServer({ server });
  let secure = false;
  wss.on('connection', (ws, req) => {
    secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const config = await dir.file(
      'tls-target.yaml',
      `accessLog: false
log: { level: warn }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
services:
  secure: { targets: [{ url: "https://localhost:${port}" }] }
routes:
  - { name: chat, service: secure, websocket: true }
`,
    );
    const gw = await startChild(config, { env: { ...process.env, NODE_EXTRA_CA_CERTS: certs.ca.certPath } });
    const c = await connect(`ws://127.0.0.1:${gw.port}/through`);
    const payload = Buffer.alloc(70_000, 7);
    c.send(payload);
    assert.deepEqual((await nextMessage(c)).data, payload);
    assert.equal(secure, true, 'the service saw a TLS connection');
    c.close();
    await closed(c);
    await gw.kill();
  } finally {
    wss.close();
    server.closeAllConnections();
    server.close();
  }
});
