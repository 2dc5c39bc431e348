// Server-sent events and other long-lived responses pass through as they are written: each event
// reaches the client before the service writes the next one (the service waits for the client to
// have seen it, so a gateway that held anything back would hang the test until its timeout); the
// response timeout (time to the response head) never ends a stream that keeps talking; the idle
// timeout ends one that falls silent, and closes the service's side too; a client that leaves
// closes the service's side at once.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Reads an SSE response, calling `onEvent` with each complete event's data; resolves how it ended. */
function readEvents(res: IncomingMessage, onEvent: (data: string) => void): Promise<'end' | 'aborted'> {
  return new Promise((resolve) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) !== -1) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        onEvent(event.replace(/^data: /, ''));
      }
    });
    res.on('end', () => resolve('end'));
    res.on('aborted', () => resolve('aborted'));
    res.on('error', () => resolve('aborted'));
  });
}

function get(url: string, path: string): Promise<{ res: IncomingMessage; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}${path}`, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => resolve({ res, req }));
    req.on('error', reject);
  });
}

const EVENTS = 5;

describe('server-sent events through the gateway', () => {
  let up: Upstream;
  let gw: TestGateway;
  /** Per event of /lockstep: resolved when the client has read it. */
  let seen: Deferred[] = [];
  /** Resolved when the service's side of /silent or /forever closed. */
  let upstreamClosed = deferred();

  function sse(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.on('close', () => upstreamClosed.resolve());
  }

  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.url === '/lockstep') {
        sse(res);
        void (async () => {
          for (let n = 1; n <= EVENTS; n++) {
            res.write(`data: ${n}\n\n`);
            await seen[n - 1]!.promise; // the next event only after the client has this one
          }
          res.end();
        })();
      } else if (req.url === '/ticking') {
        // 12 events 100 ms apart: the stream lasts well past the 200 ms response timeout.
        sse(res);
        let n = 0;
        const t = setInterval(() => {
          res.write(`data: ${++n}\n\n`);
          if (n === 12) {
            clearInterval(t);
            res.end();
          }
        }, 100);
        res.on('close', () => clearInterval(t));
      } else if (req.url === '/silent' || req.url === '/forever') {
        // One event, then nothing: only the idle timeout (or the client leaving) ends it.
        sse(res);
        res.write('data: hello\n\n');
      } else {
        res.writeHead(404).end();
      }
    });
    gw = await startTestGateway({
      services: {
        events: { targets: [{ url: up.url }], timeouts: { response: '200ms', idle: '400ms' } },
        // Idle timeout far past the test's: only the client leaving can close /forever in time.
        long: { targets: [{ url: up.url }], timeouts: { idle: '60s' } },
      },
      routes: [
        { name: 'forever', match: { paths: ['/forever'] }, service: 'long' },
        { name: 'events', match: { paths: ['/*'] }, service: 'events' },
      ],
    });
  });

  after(async () => {
    await maybeUnset(gw)?.stop();
    await maybeUnset(up)?.close();
  });

  test('each event reaches the client before the service writes the next; head and type pass unchanged', { timeout: 10_000 }, async () => {
    seen = Array.from({ length: EVENTS }, deferred);
    const { res } = await get(gw.url, '/lockstep');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.headers['cache-control'], 'no-cache');
    const got: string[] = [];
    const ended = await readEvents(res, (data) => {
      got.push(data);
      seen[got.length - 1]!.resolve();
    });
    assert.equal(ended, 'end');
    assert.deepEqual(got, ['1', '2', '3', '4', '5']);
  });

  test('a stream that keeps talking outlives the response timeout', { timeout: 10_000 }, async () => {
    const { res } = await get(gw.url, '/ticking');
    const got: string[] = [];
    const ended = await readEvents(res, (d) => got.push(d));
    assert.equal(ended, 'end');
    assert.equal(got.length, 12);
    assert.equal(got.at(-1), '12');
  });

  test('a silent stream is ended by the idle timeout, on both sides', { timeout: 10_000 }, async () => {
    upstreamClosed = deferred();
    const { res } = await get(gw.url, '/silent');
    const got: string[] = [];
    const ended = await readEvents(res, (d) => got.push(d));
    // Cut, not ended cleanly: the client must not take a truncated stream for a complete one.
    assert.equal(ended, 'aborted');
    assert.deepEqual(got, ['hello']);
    await upstreamClosed.promise;
  });

  test('a client that leaves closes the service side of its stream', { timeout: 10_000 }, async () => {
    upstreamClosed = deferred();
    const { res, req } = await get(gw.url, '/forever');
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    req.destroy();
    await upstreamClosed.promise;
  });
});
