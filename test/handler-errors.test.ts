// A bug in a handler costs one request, never the process: a policy that throws (synchronously or
// in a promise) answers 500 GW_INTERNAL, is logged, and the data plane keeps serving; an exception
// that escapes every handler is logged by the process guard and the process lives on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { pino } from 'pino';
import { DataPlane } from '../src/dataplane/dataplane.js';
import { validateConfig } from '../src/validation/validate.js';
import { startUpstream } from './helpers/upstream.js';
import { waitFor } from './helpers/child.js';

const up = await startUpstream();
after(() => up.close());

function capturingLogger() {
  const lines: { msg: string; err?: { message: string } }[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as (typeof lines)[number]);
      cb();
    },
  });
  return { log: pino({ level: 'error' }, dest), lines };
}

test('a policy that throws answers 500 GW_INTERNAL, is logged, and the next requests are served', async () => {
  const r = validateConfig({
    accessLog: false,
    listen: [{ port: 0, host: '127.0.0.1' }],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'sync', match: { paths: ['/sync'] }, service: 'up' },
      { name: 'async', match: { paths: ['/async'] }, service: 'up' },
      { name: 'fine', match: { paths: ['/fine'] }, service: 'up' },
    ],
  });
  assert.ok(r.ok);
  const { log, lines } = capturingLogger();
  const dp = new DataPlane(r.config, log);
  const [bound] = await dp.listen([{ port: 0, host: '127.0.0.1' }]);
  try {
    // Stand-ins for a buggy policy (user plugins will be able to bring one), put into the compiled plan.
    const route = (name: string) => dp.plan.routes.find((x) => x.name === name)!;
    route('sync').access.push({
      access: () => {
        throw new Error('sync policy bug');
      },
    });
    route('sync').accessTypes.push('buggy');
    route('async').access.push({ access: () => Promise.reject(new Error('async policy bug')) });
    route('async').accessTypes.push('buggy');
    const base = `http://127.0.0.1:${bound!.port}`;
    for (const path of ['/sync', '/async', '/sync']) {
      const res = await request(base + path);
      const body = (await res.body.json()) as { error: { code: string; message: string } };
      assert.equal(res.statusCode, 500, path);
      assert.equal(body.error.code, 'GW_INTERNAL');
      assert.doesNotMatch(JSON.stringify(body), /policy bug|at .*\.js/, 'no stack or message of the bug in the answer');
    }
    const fine = await request(base + '/fine');
    await fine.body.dump();
    assert.equal(fine.statusCode, 200);
    assert.deepEqual(
      lines.map((l) => l.err?.message),
      ['sync policy bug', 'async policy bug', 'sync policy bug'],
    );
  } finally {
    await dp.destroy();
  }
});

test('the process guard logs an uncaught exception and an unhandled rejection, and the process lives on', () => {
  const guard = fileURLToPath(new URL('../src/runtime/crash-guard.js', import.meta.url));
  const script = `
    import { pino } from 'pino';
    import { guardProcess } from ${JSON.stringify(guard)};
    const log = pino(pino.destination({ dest: 2, sync: true }));
    guardProcess(() => log);
    setTimeout(() => { throw new Error('escaped a handler'); }, 1);
    setTimeout(() => { Promise.reject(new Error('nobody awaited this')); }, 5);
    setTimeout(() => { process.stdout.write('still alive'); }, 50);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    timeout: 10_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'still alive');
  assert.match(r.stderr, /uncaught exception; the process keeps serving/);
  assert.match(r.stderr, /escaped a handler/);
  assert.match(r.stderr, /unhandled promise rejection; the process keeps serving/);
  assert.match(r.stderr, /nobody awaited this/);
});

test('a policy that throws in a later step (a replayable body read, a queued slot) answers 500 and gives its slot back', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const slow = await startUpstream((req, res) => {
    if (req.url === '/hold') void held.then(() => res.end('held'));
    else {
      req.resume();
      res.end('ok');
    }
  });
  const r = validateConfig({
    accessLog: false,
    listen: [{ port: 0, host: '127.0.0.1' }],
    services: {
      up: { targets: [{ url: slow.url }], retries: { methods: ['POST', 'GET'] }, circuitBreaker: { maxConcurrent: 1, maxQueue: 4 } },
    },
    routes: [{ name: 'r', match: { paths: ['/*'] }, service: 'up' }],
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const { log, lines } = capturingLogger();
  const dp = new DataPlane(r.config, log);
  const [bound] = await dp.listen([{ port: 0, host: '127.0.0.1' }]);
  try {
    const route = dp.plan.routes[0]!;
    // Runs once the body was read (POST) or the slot was granted: after run() has returned.
    route.upstreamRequest.push({
      upstreamRequest: (ctx) => {
        if (ctx.req.headers['x-boom']) throw new Error('late policy bug');
      },
    });
    const base = `http://127.0.0.1:${bound!.port}`;
    const post = await request(`${base}/p`, { method: 'POST', body: 'a small replayable body', headers: { 'x-boom': '1' } });
    assert.equal(post.statusCode, 500);
    assert.equal(((await post.body.json()) as { error: { code: string } }).error.code, 'GW_INTERNAL');
    // One request holds the only slot; the next ones queue and fail in the queue's callback.
    const holder = request(`${base}/hold`, { reset: true });
    await waitFor('the holder to reach the upstream', () => slow.seen.some((x) => x.url === '/hold'));
    const queued = Array.from({ length: 3 }, (_, i) => request(`${base}/q${i}`, { headers: { 'x-boom': '1' }, reset: true }));
    await waitFor('three requests in the queue', () => route.service!.state.admission!.queued === 3);
    release();
    assert.equal((await holder).statusCode, 200);
    for (const res of await Promise.all(queued)) {
      await res.body.dump();
      assert.equal(res.statusCode, 500);
    }
    // The slot came back every time: a healthy request is served.
    const fine = await request(`${base}/fine`);
    await fine.body.dump();
    assert.equal(fine.statusCode, 200);
    assert.equal(lines.filter((l) => l.err?.message === 'late policy bug').length, 4);
  } finally {
    await dp.destroy();
    await slow.close();
  }
});
