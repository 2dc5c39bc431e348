// The store breaker on a hand-moved clock: a failure ratio over a rolling window, not a run of
// failures, opens it; a dead store still opens it as soon as the window holds enough calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Breaker, STORE_BREAKER } from './breaker.js';

function clocked() {
  let now = 1_000_000;
  const breaker = new Breaker(() => now);
  const call = (ok: boolean) => {
    if (!breaker.allow()) return 'refused';
    if (ok) breaker.success();
    else breaker.failure();
    return 'sent';
  };
  return { breaker, call, advance: (ms: number) => (now += ms) };
}

test('a busy moment: a few failures in a row among many successes leave the breaker closed', () => {
  const { breaker, call, advance } = clocked();
  for (let i = 0; i < 100; i++) {
    call(true);
    advance(10);
  }
  for (let i = 0; i < 5; i++) assert.equal(call(false), 'sent');
  assert.equal(breaker.open, false);
  assert.equal(breaker.state, 'closed');
  assert.equal(call(true), 'sent');
});

test('fewer calls than minCalls never open it, however many of them fail', () => {
  const { breaker, call } = clocked();
  for (let i = 0; i < STORE_BREAKER.minCalls - 1; i++) call(false);
  assert.equal(breaker.open, false);
});

test('a dead store: the breaker opens once minCalls calls of the window fail, then refuses without calling', () => {
  const { breaker, call } = clocked();
  for (let i = 0; i < STORE_BREAKER.minCalls; i++) assert.equal(call(false), 'sent');
  assert.equal(breaker.open, true);
  assert.equal(breaker.state, 'open');
  assert.equal(call(true), 'refused');
});

test('the ratio: half of the window failing opens it, less does not', () => {
  const below = clocked();
  for (let i = 0; i < 30; i++) below.call(i % 3 !== 0); // a third fail
  assert.equal(below.breaker.open, false);
  const at = clocked();
  for (let i = 0; i < 30; i++) at.call(i % 2 === 0); // every other one fails
  assert.equal(at.breaker.open, true);
});

test('old outcomes leave the window: failures spread thinner than the window never add up', () => {
  const { breaker, call, advance } = clocked();
  // minCalls failures, but never more than half of them inside one window.
  for (let i = 0; i < 4 * STORE_BREAKER.minCalls; i++) {
    call(false);
    advance(Math.ceil((2 * STORE_BREAKER.windowMs) / STORE_BREAKER.minCalls));
  }
  assert.equal(breaker.open, false);
});

test('after the cooldown one trial call goes out; it closes the breaker or opens it for another cooldown', () => {
  const { breaker, call, advance } = clocked();
  for (let i = 0; i < STORE_BREAKER.minCalls; i++) call(false);
  advance(STORE_BREAKER.cooldownMs - 1);
  assert.equal(call(true), 'refused');
  advance(1);
  assert.equal(breaker.allow(), true);
  assert.equal(breaker.state, 'half-open');
  assert.equal(breaker.allow(), false, 'one trial at a time');
  breaker.failure();
  assert.equal(breaker.state, 'open');
  advance(STORE_BREAKER.cooldownMs - 1);
  assert.equal(call(true), 'refused');
  advance(1);
  assert.equal(call(true), 'sent');
  assert.equal(breaker.state, 'closed');
  // Closed with a clean window: one failure does not reopen it.
  assert.equal(call(false), 'sent');
  assert.equal(breaker.open, false);
});

test('a call sent before the breaker opened and answering late does not close it', () => {
  const { breaker, call } = clocked();
  for (let i = 0; i < STORE_BREAKER.minCalls; i++) call(false);
  breaker.success();
  assert.equal(breaker.open, true);
});
