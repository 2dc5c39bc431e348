import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryBudget } from './retry-budget.js';
import { ManualClock } from './clock.js';

test('retries stay within max(minRetries, ratio × requests) over the window', () => {
  const clock = new ManualClock();
  const b = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetries: 3 }, clock);
  let granted = 0;
  for (let i = 0; i < 100; i++) {
    b.recordRequest();
    if (b.tryRetry()) granted++;
    clock.advance(10);
  }
  assert.equal(granted, 20);
});

test('minRetries lets a quiet service retry', () => {
  const clock = new ManualClock();
  const b = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetries: 3 }, clock);
  b.recordRequest();
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), false);
  clock.advance(10_001); // the window has rolled over
  assert.equal(b.tryRetry(), true);
});
