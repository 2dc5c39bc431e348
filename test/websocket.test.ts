// WebSockets through a real gateway with real clients and a real service (the `ws` package on
// both ends): echo of text, binary and large messages, the handshake's policies (key-auth with the
// identity headers, rate limit, ip-restriction, CORS origin), and every refusal — a route without
// `websocket`, a malformed handshake, the service saying no, a bad 101, a slow or absent service.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startWsUpstream, type WsUpstream } from './helpers/ws-upstream.js';
import { closed, connect, nextMessage, refusal } from './helpers/ws-client.js';
import { maybeUnset } from './helpers/hooks.js';
import { rawRequest } from './helpers/raw.js';
import { parseResponses } from './helpers/wire.js';

let up: WsUpstream;
let gw: TestGateway;
let ws: string;

before(async () => {
  up = await startWsUpstream();
  gw = await startTestGateway({
    services: {
      svc: { targets: [{ url: up.url }] },
      down: { targets: [{ url: 'http://127.0.0.1:1' }], timeouts: { connect: '1s' } },
    },
    consumers: [{ id: 'alice', groups: ['chat'], credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'echo', match: { paths: ['/echo', '/echo/*', '/deny/*', '/bad-accept/*'] }, service: 'svc', websocket: true },
      { name: 'silent', match: { paths: ['/silent/*'] }, service: 'svc', websocket: { handshakeTimeout: '300ms' } },
      {
        name: 'keyed',
        match: { paths: ['/keyed/*'] },
        service: 'svc',
        websocket: true,
        policies: [{ type: 'key-auth' }, { type: 'acl', allow: ['chat'] }],
      },
      {
        name: 'limited',
        match: { paths: ['/limited/*'] },
        service: 'svc',
        websocket: true,
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 1, window: '1h', by: 'ip' }],
      },
      {
        name: 'walled',
        match: { paths: ['/walled/*'] },
        service: 'svc',
        websocket: true,
        policies: [{ type: 'ip-restriction', deny: ['127.0.0.0/8'] }],
      },
      {
        name: 'browser',
        match: { paths: ['/browser/*'] },
        service: 'svc',
        websocket: true,
        policies: [{ type: 'cors', origins: ['https://app.example.com'] }],
      },
      { name: 'plain', match: { paths: ['/plain/*'] }, service: 'svc' },
      { name: 'down', match: { paths: ['/down/*'] }, service: 'down', websocket: true },
    ],
  });
  ws = `ws://127.0.0.1:${gw.port}`;
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

describe('proxying', () => {
  test('text messages echo through the gateway, in order', async () => {
    const c = await connect(`${ws}/echo/text`);
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      c.on('message', (d: Buffer) => {
        got.push(d.toString());
        if (got.length === 50) resolve();
      }),
    );
    for (let i = 0; i < 50; i++) c.send(`message ${i}`);
    await all;
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => `message ${i}`),
    );
    c.close(1000, 'done');
    assert.deepEqual(await closed(c), { code: 1000, reason: 'done' });
  });

  test('binary frames and an 8 MB message come back byte for byte', async () => {
    const c = await connect(`${ws}/echo/binary`);
    const small = randomBytes(1000);
    c.send(small);
    const a = await nextMessage(c);
    assert.equal(a.binary, true);
    assert.deepEqual(a.data, small);
    const large = randomBytes(8 * 1024 * 1024);
    c.send(large);
    const b = await nextMessage(c);
    assert.equal(b.binary, true);
    assert.equal(Buffer.compare(b.data, large), 0);
    c.close();
    await closed(c);
  });

  test('the service sees the path, forwarding headers and the client subprotocol; Upgrade and Connection are the handshake’s own', async () => {
    const c = await connect(`${ws}/echo/headers?room=7`, { headers: { 'x-custom': 'kept' } }, ['chat.v2']);
    assert.equal(c.protocol, 'chat.v2');
    const seen = up.handshakes.at(-1)!;
    assert.equal(seen.url, '/echo/headers?room=7');
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers.via, '1.1 gatehouse');
    assert.equal(seen.headers.upgrade, 'websocket');
    assert.match(seen.headers.connection ?? '', /upgrade/i);
    assert.equal(seen.headers['sec-websocket-protocol'], 'chat.v2');
    c.close();
    await closed(c);
  });

  test('frames the client sends right behind its handshake (same packet) are not lost', async () => {
    const key = randomBytes(16).toString('base64');
    const payload = Buffer.from('early');
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
    const head = `GET /echo/early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const received = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(gw.port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end !== -1 && buf.length >= end + 4 + 2 + payload.length) {
          s.destroy();
          resolve(buf);
        }
      });
      s.on('error', reject);
      s.write(Buffer.concat([Buffer.from(head), frame]));
    });
    const text = received.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 101 /);
    const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
    assert.equal(body[0], 0x81, 'an unmasked text frame from the service');
    assert.equal(body.subarray(2, 2 + payload.length).toString(), 'early');
  });

  test('a plain request on a websocket route is served as usual', async () => {
    const res = await request(`${gw.url}/echo/page`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'plain /echo/page');
  });
});

describe('policies on the handshake', () => {
  test('key-auth: no key → 401; a key → the service sees the consumer, never the client’s copy', async () => {
    const r = await refusal(`${ws}/keyed/room`);
    assert.equal(r.status, 401);
    assert.equal(r.code, 'GW_UNAUTHORIZED');
    const before = up.handshakes.length;
    const c = await connect(`${ws}/keyed/room`, { headers: { 'x-api-key': 'alice-key-0123456789', 'x-consumer-id': 'mallory' } });
    assert.equal(up.handshakes.length, before + 1);
    const seen = up.handshakes.at(-1)!;
    assert.equal(seen.headers['x-consumer-id'], 'alice');
    assert.equal(seen.headers['x-consumer-groups'], 'chat');
    c.send('hi');
    assert.equal((await nextMessage(c)).data.toString(), 'hi');
    c.close();
    await closed(c);
  });

  test('rate-limit: the second handshake of the window is refused with 429', async () => {
    const c = await connect(`${ws}/limited/a`);
    const r = await refusal(`${ws}/limited/b`);
    assert.equal(r.status, 429);
    assert.equal(r.code, 'GW_RATE_LIMITED');
    assert.ok(r.headers['retry-after']);
    c.close();
    await closed(c);
  });

  test('ip-restriction refuses the handshake with 403', async () => {
    const r = await refusal(`${ws}/walled/x`);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'GW_IP_FORBIDDEN');
  });

  test('cors: an Origin the policy does not allow is refused (browsers do not apply CORS to WebSockets); an allowed one connects', async () => {
    const before = up.handshakes.length;
    const r = await refusal(`${ws}/browser/x`, { origin: 'https://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(r.code, 'GW_CORS_FORBIDDEN');
    assert.equal(up.handshakes.length, before, 'never reached the service');
    const c = await connect(`${ws}/browser/x`, { origin: 'https://app.example.com' });
    c.close();
    await closed(c);
  });
});

describe('refusals', () => {
  test('a route without websocket refuses the upgrade with 400 GW_WEBSOCKET_NOT_ALLOWED', async () => {
    const before = up.handshakes.length;
    const r = await refusal(`${ws}/plain/x`);
    assert.equal(r.status, 400);
    assert.equal(r.code, 'GW_WEBSOCKET_NOT_ALLOWED');
    assert.equal(up.handshakes.length, before);
  });

  test('another protocol’s upgrade (h2c) is served as a plain request on any route', async () => {
    const raw = await rawRequest(
      gw.port,
      'GET /plain/h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    const [res] = parseResponses(raw);
    assert.equal(res?.status, 200, raw);
    assert.equal(res.body.toString(), 'plain /plain/h2c');
  });

  test('a malformed handshake: version 8 → 426 with Sec-WebSocket-Version: 13; a bad key or a POST → 400', async () => {
    const send = (head: string) => rawRequest(gw.port, `${head}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
    const key = randomBytes(16).toString('base64');
    let [res] = parseResponses(await send(`GET /echo/v HTTP/1.1\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 8`));
    assert.equal(res?.status, 426);
    assert.equal(res.headers['sec-websocket-version'], '13');
    assert.match(res.body.toString(), /GW_WEBSOCKET_BAD_HANDSHAKE/);
    [res] = parseResponses(await send(`GET /echo/v HTTP/1.1\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13`));
    assert.equal(res?.status, 400);
    assert.match(res.body.toString(), /GW_WEBSOCKET_BAD_HANDSHAKE/);
    [res] = parseResponses(
      await send(`POST /echo/v HTTP/1.1\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0`),
    );
    assert.equal(res?.status, 400);
    assert.match(res.body.toString(), /GW_WEBSOCKET_BAD_HANDSHAKE/);
  });

  test('the service refuses (403 and a body): the client gets the service’s answer', async () => {
    const r = await refusal(`${ws}/deny/x`);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'not for you\r\n');
    assert.equal(r.headers['x-service'], 'said-no');
  });

  test('a 101 with a wrong Sec-WebSocket-Accept → 502 GW_UPSTREAM_ERROR', async () => {
    const r = await refusal(`${ws}/bad-accept/x`);
    assert.equal(r.status, 502);
    assert.equal(r.code, 'GW_UPSTREAM_ERROR');
    assert.match(r.body, /Sec-WebSocket-Accept/);
  });

  test('a service that never answers the handshake → 504 after handshakeTimeout', async () => {
    const r = await refusal(`${ws}/silent/x`);
    assert.equal(r.status, 504);
    assert.equal(r.code, 'GW_UPSTREAM_TIMEOUT');
  });

  test('a service that cannot be reached → 502 GW_UPSTREAM_UNAVAILABLE', async () => {
    const r = await refusal(`${ws}/down/x`);
    assert.equal(r.status, 502);
    assert.equal(r.code, 'GW_UPSTREAM_UNAVAILABLE');
  });
});
