// The upstream call on its own, against real upstream servers: each call tells its owner exactly
// one outcome — a response (head, body, end) or an answer the gateway gives instead — and frees
// what it holds (concurrency slot, breaker probe) when the request ends.
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DataPlane } from './dataplane.js';
import { callRoute, UpstreamCall, type CallOwner, type UpstreamRequest } from './upstream-call.js';
import type { Answer } from './respond.js';
import type { RequestContext } from '../policies/types.js';
import { validateConfig } from '../validation/validate.js';
import { silentLogger } from '../observability/logger.js';
import { startFlaky, type FlakyUpstream } from '../../test/helpers/flaky-upstream.js';
import { closedPort } from '../../test/helpers/wire.js';
import { waitFor } from '../../test/helpers/child.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function upstream(name: string): Promise<FlakyUpstream> {
  const up = await startFlaky(name);
  cleanups.push(async () => {
    up.releaseHung();
    await up.close();
  });
  return up;
}

/** A data plane (never listening) compiled from one service; its route's calls go to real pools. */
function plane(service: Record<string, unknown>): DataPlane {
  const result = validateConfig({
    accessLog: false,
    services: { svc: service },
    routes: [{ name: 'r', match: { paths: ['/*'] }, service: 'svc' }],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  const dp = new DataPlane(result.config, silentLogger);
  cleanups.push(() => dp.destroy());
  return dp;
}

/** What the call told its owner, in order. */
interface Told {
  events: string[];
  answer: Answer | undefined;
  status: number | undefined;
  body: string;
  done: Promise<void>;
}

function owner(method = 'GET'): { owner: CallOwner; told: Told; attach(call: UpstreamCall): void } {
  let settle!: () => void;
  const told: Told = { events: [], answer: undefined, status: undefined, body: '', done: new Promise((r) => (settle = r)) };
  let call: UpstreamCall | undefined;
  const request = (): UpstreamRequest => ({
    method,
    headers: ['host', ''],
    hostIndex: 1,
    host: undefined,
    traceIndex: -1,
    path: '/x',
    query: '',
    body: null,
  });
  const o: CallOwner = {
    req: { method, readableEnded: true },
    requestId: 'test',
    trace: undefined,
    tracer: undefined,
    observed: true,
    context: () => ({}) as RequestContext,
    step: (fn) => fn(),
    headersSent: () => told.status !== undefined,
    admitted: () => {
      told.events.push('admitted');
      call!.send(request());
    },
    respond: (a) => {
      told.events.push('respond');
      told.answer = a;
      settle();
    },
    // The call's failures: the gateway answers (no policy serves in the service's place here).
    upstreamFailed: (a) => {
      told.events.push('respond');
      told.answer = a;
      settle();
    },
    upstreamHead: (status) => {
      told.events.push('head');
      told.status = status;
      return true;
    },
    upstreamData: (chunk) => {
      told.body += chunk.toString();
      return true;
    },
    upstreamEnd: () => {
      told.events.push('end');
      settle();
    },
    upstreamBroke: () => {
      told.events.push('broke');
      settle();
    },
  };
  return {
    owner: o,
    told,
    attach: (c) => {
      call = c;
    },
  };
}

function start(dp: DataPlane, method = 'GET'): { call: UpstreamCall; told: Told } {
  const o = owner(method);
  const call = new UpstreamCall(o.owner, callRoute(dp.plan.routes[0]!), silentLogger);
  o.attach(call);
  call.admit();
  return { call, told: o.told };
}

describe('an upstream call has one outcome', () => {
  test('a response: head, body, end; one attempt, its target and time', async () => {
    const a = await upstream('a');
    const { call, told } = start(plane({ targets: [{ url: a.url }] }));
    await told.done;
    call.end(false);
    assert.deepEqual(told.events, ['admitted', 'head', 'end']);
    assert.equal(told.status, 200);
    assert.equal(told.body, 'a');
    assert.equal(call.attempt, 1);
    assert.equal(call.retries, 0);
    assert.equal(call.target?.url, a.url);
    assert.ok(call.upstreamMs >= 0);
  });

  test('a retried status is read and dropped; the next target answers', async () => {
    const bad = await upstream('bad');
    const good = await upstream('good');
    bad.mode = 'fail';
    const dp = plane({
      targets: [{ url: bad.url }, { url: good.url }],
      balancer: 'round-robin',
      retries: { attempts: 2, on: [503], backoff: { base: '1ms', max: '2ms' } },
    });
    // Round robin: one of two calls starts on the failing target; its retry avoids it.
    const calls = [start(dp), start(dp)];
    for (const { call, told } of calls) {
      await told.done;
      call.end(false);
      assert.deepEqual(told.events, ['admitted', 'head', 'end']);
      assert.equal(told.status, 200);
      assert.equal(told.body, 'good');
    }
    assert.deepEqual(calls.map((c) => c.call.retries).sort(), [0, 1]);
    assert.equal(bad.hits, 1);
  });

  test('every attempt fails to connect: the gateway answers GW_UPSTREAM_UNAVAILABLE, never a head', async () => {
    const port = await closedPort();
    const { call, told } = start(
      plane({
        targets: [{ url: `http://127.0.0.1:${port}` }],
        retries: { attempts: 2, on: ['connect-error'], backoff: { base: '1ms', max: '2ms' } },
      }),
    );
    await told.done;
    call.end(false);
    assert.deepEqual(told.events, ['admitted', 'respond']);
    assert.equal(told.answer?.kind === 'error' && told.answer.code, 'GW_UPSTREAM_UNAVAILABLE');
    assert.equal(call.attempt, 2); // the only target is tried again: nothing else is left
    assert.equal(call.retries, 1);
  });

  test('no answer in time: GW_UPSTREAM_TIMEOUT', async () => {
    const a = await upstream('a');
    a.mode = 'hang';
    const { call, told } = start(plane({ targets: [{ url: a.url }], timeouts: { response: '100ms' } }));
    await told.done;
    call.end(false);
    assert.equal(told.answer?.kind === 'error' && told.answer.code, 'GW_UPSTREAM_TIMEOUT');
  });

  test('an open circuit answers with its fallback and never admits', async () => {
    const a = await upstream('a');
    a.mode = 'fail';
    const dp = plane({
      targets: [{ url: a.url }],
      circuitBreaker: { consecutiveFailures: 1, openDuration: '10s', fallback: { status: 200, headers: {}, body: 'later' } },
    });
    const first = start(dp);
    await first.told.done;
    first.call.end(false);
    assert.equal(first.told.status, 503);
    const second = start(dp);
    await second.told.done;
    assert.deepEqual(second.told.events, ['respond']);
    assert.deepEqual(second.told.answer, { kind: 'verdict', verdict: { status: 200, headers: {}, body: 'later' } });
    assert.equal(a.hits, 1);
  });

  test('over the concurrency limit: GW_SERVICE_OVERLOADED; the slot is free again once the holder ends', async () => {
    const a = await upstream('a');
    a.mode = 'hang';
    const dp = plane({ targets: [{ url: a.url }], circuitBreaker: { maxConcurrent: 1, maxQueue: 0, minRequests: 1000 } });
    const holder = start(dp);
    await waitFor('the first call upstream', () => a.hits === 1, 3000, 10);
    const refused = start(dp);
    await refused.told.done;
    assert.equal(refused.told.answer?.kind === 'error' && refused.told.answer.code, 'GW_SERVICE_OVERLOADED');
    // The client of the first call goes away: nothing more is told, and its slot is given back.
    holder.call.end(true);
    a.mode = 'ok';
    const next = start(dp);
    await next.told.done;
    next.call.end(false);
    assert.equal(next.told.status, 200);
    assert.deepEqual(holder.told.events, ['admitted']);
  });
});
