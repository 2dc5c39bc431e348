// A hostile review of the console's server side, over real HTTP against real gateways: each test
// here failed before the fix it names (docs/dashboard.md, "Security").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

const TOKEN = 'console-review-token-1';
const base = { services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } }, routes: [{ name: 'r', service: 's' }] };

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ ...base, admin: { token: TOKEN } });
});
after(async () => {
  await gw.stop();
});

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function raw(url: string, path: string, method = 'GET', headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('login attempts sent at once are throttled as one after another: at most 10 wrong tokens are compared', async () => {
  const g = await startTestGateway({ ...base, admin: { token: TOKEN } });
  try {
    const u = new URL(g.adminUrl);
    const n = 30;
    // Every request's headers first (the server starts on each), the bodies only once all have started.
    const pending: { req: http.ClientRequest; body: string; done: Promise<number> }[] = [];
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({ token: `wrong-${i}` });
      const req = http.request({
        host: u.hostname,
        port: u.port,
        path: '/ui/session',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      });
      const done = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
      });
      req.flushHeaders();
      pending.push({ req, body, done });
    }
    // A round trip after every header went out: the server has read them all by now.
    assert.equal((await raw(g.adminUrl, '/health')).status, 200);
    for (const p of pending) p.req.end(p.body);
    const statuses = await Promise.all(pending.map((p) => p.done));
    const compared = statuses.filter((s) => s === 401).length;
    const throttled = statuses.filter((s) => s === 429).length;
    assert.equal(compared, 10, `statuses: ${statuses.join(',')}`);
    assert.equal(throttled, n - 10);
  } finally {
    await g.stop();
  }
});
