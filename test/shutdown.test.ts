// Graceful shutdown of a gateway child process: SIGTERM drains in-flight requests, refuses new
// connections, and exits 0; SIGINT likewise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Agent, request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { killAllChildren, startChild, tempDir, waitFor, type TempDir } from './helpers/child.js';

let dir: TempDir;
let up: Upstream;
before(async () => {
  dir = await tempDir();
  // /slow answers after about a second; everything else at once.
  up = await startUpstream((req, res) => {
    const body = `done ${req.url}`;
    if (req.url?.startsWith('/slow')) setTimeout(() => res.end(body), 1000);
    else res.end(body);
  });
});
after(async () => {
  await killAllChildren();
  await up.close();
  await dir.remove();
});

const CONFIG = () => `
accessLog: false
log: { level: info }
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1 }
shutdown: { drainTimeout: 10s }
services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
  - { name: all, service: up }
`;

/** Resolves with "connected" or the connect error's code. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('SIGTERM: the in-flight request completes with 200, new connections are refused, exit code 0', async () => {
  const gw = await startChild(await dir.file('term.yaml', CONFIG()));
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const idleAgent = new Agent({ keepAliveTimeout: 30_000 });
  try {
    // A keep-alive connection that has served a request and sits idle: it must not keep the process alive.
    const warm = await request(`${gw.url}/warm`, { dispatcher: idleAgent });
    assert.equal(await warm.body.text(), 'done /warm');

    const hitsBefore = up.hits;
    const slow = request(`${gw.url}/slow/1`, { dispatcher: agent }).then(async (r) => ({
      status: r.statusCode,
      body: await r.body.text(),
      connection: r.headers.connection,
    }));
    await waitFor('the slow request to reach the upstream', () => up.hits > hitsBefore, 2000, 10);
    const signalled = Date.now();
    gw.proc.kill('SIGTERM');

    // Shutdown begins: the listener closes while the slow request is still running.
    await waitFor('new connections to be refused', async () => (await tryConnect(gw.port)) === 'ECONNREFUSED', 800, 10);
    assert.ok(gw.isRunning(), 'the process waits for the in-flight request');
    // The admin API stays up while draining and tells load balancers to stop sending traffic.
    const ready = await request(`${gw.adminUrl}/ready`);
    assert.equal(ready.statusCode, 503);
    assert.equal(((await ready.body.json()) as { status: string }).status, 'not ready');

    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'done /slow/1');
    assert.equal(r.connection, 'close', 'a draining gateway closes the connection after the response');
    assert.ok(Date.now() - signalled >= 500, 'the response came from the upstream, after the signal');

    const { code, signal } = await gw.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, gw.stderr);
    assert.equal(await tryConnect(gw.port), 'ECONNREFUSED');
    assert.equal(await tryConnect(gw.adminPort), 'ECONNREFUSED');
  } finally {
    await agent.close();
    await idleAgent.close();
    await gw.kill();
  }
});

test('SIGINT: exits 0 too', async () => {
  const gw = await startChild(await dir.file('int.yaml', CONFIG()));
  try {
    const res = await request(`${gw.url}/x`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const started = Date.now();
    gw.proc.kill('SIGINT');
    const { code, signal } = await gw.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, gw.stderr);
    assert.ok(Date.now() - started < 3000, 'an idle gateway stops promptly');
  } finally {
    await gw.kill();
  }
});

test('SIGINT with a request in flight: it completes, then exit 0', async () => {
  const gw = await startChild(await dir.file('int2.yaml', CONFIG()));
  try {
    const hitsBefore = up.hits;
    const slow = request(`${gw.url}/slow/2`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await waitFor('the slow request to reach the upstream', () => up.hits > hitsBefore, 2000, 10);
    gw.proc.kill('SIGINT');
    assert.deepEqual(await slow, { status: 200, body: 'done /slow/2' });
    const { code } = await gw.exited;
    assert.equal(code, 0, gw.stderr);
  } finally {
    await gw.kill();
  }
});
