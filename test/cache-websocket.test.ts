// A WebSocket handshake on a cached route: it is a GET for the same URI as a plain request, but
// never answered from (nor stored in) the cache — a stored 200 would refuse every connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startWsUpstream, type WsUpstream } from './helpers/ws-upstream.js';
import { connect, nextMessage } from './helpers/ws-client.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

let up: WsUpstream;
let gw: TestGateway;

before(async () => {
  up = await startWsUpstream();
  gw = await startTestGateway({
    services: { svc: { targets: [{ url: up.url }] } },
    routes: [{ name: 'chat', match: { paths: ['/chat/*'] }, service: 'svc', websocket: {}, policies: [{ type: 'cache', ttl: '60s' }] }],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

test('a WebSocket handshake is not answered with the plain GET stored for its URI', async () => {
  for (let i = 0; i < 2; i++) {
    const r = await request(`${gw.url}/chat/room`);
    assert.equal(await r.body.text(), 'plain /chat/room');
    if (i === 1) assert.match(String(r.headers['cache-status']), /hit/, 'the plain GET is stored');
  }
  const ws = await connect(`${gw.url.replace('http', 'ws')}/chat/room`);
  ws.send('hello');
  assert.equal((await nextMessage(ws)).data.toString(), 'hello');
  ws.close();
});
