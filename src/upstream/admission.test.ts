import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionControl } from './admission.js';
import { ManualClock } from './clock.js';

test('admits maxConcurrent, queues maxQueue in order, refuses the rest', async () => {
  const clock = new ManualClock();
  const a = new AdmissionControl({ maxConcurrent: 2, maxQueue: 2, queueTimeoutMs: 1000 }, clock);
  assert.equal(a.acquire(), true);
  assert.equal(a.acquire(), true);
  const q1 = a.acquire();
  const q2 = a.acquire();
  assert.equal(typeof q1, 'object');
  assert.equal(typeof q2, 'object');
  assert.equal(a.acquire(), false);
  assert.equal(a.queued, 2);
  const order: number[] = [];
  void (q1 as { wait: Promise<boolean> }).wait.then((ok) => order.push(ok ? 1 : -1));
  void (q2 as { wait: Promise<boolean> }).wait.then((ok) => order.push(ok ? 2 : -2));
  a.release(); // the slot goes to q1
  a.release(); // and then to q2
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [1, 2]);
  assert.equal(a.inFlight, 2);
  a.release();
  a.release();
  assert.equal(a.inFlight, 0);
});

test('a queued request times out after queueTimeout; a cancelled one gives its place up', async () => {
  const clock = new ManualClock();
  const a = new AdmissionControl({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMs: 500 }, clock);
  assert.equal(a.acquire(), true);
  const q1 = a.acquire() as { wait: Promise<boolean>; cancel: () => void };
  const q2 = a.acquire() as { wait: Promise<boolean>; cancel: () => void };
  q1.cancel();
  assert.equal(await q1.wait, false);
  assert.equal(a.queued, 1);
  clock.advance(500);
  assert.equal(await q2.wait, false);
  assert.equal(a.queued, 0);
  a.release();
  assert.equal(a.inFlight, 0);
});
