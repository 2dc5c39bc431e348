// The store's log lines: one each way per outage, and the "available again" line counts every
// decision that failed during the outage, whichever came first — the dropped connection or a
// failed decision, and however many reminders were written in between.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreHealth } from './health.js';
import type { Logger } from '../observability/logger.js';

function capture() {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const push = (fields: Record<string, unknown>, msg: string) => lines.push({ msg, fields });
  return { lines, log: { warn: push, info: push } as unknown as Logger };
}

test('the "available again" line counts the whole outage when a decision found it down first', () => {
  const now = 0;
  const { lines, log } = capture();
  const h = new StoreHealth('redis://x', 'redis', 'gh:', log, () => now, 1000);
  h.up();
  for (let i = 0; i < 60; i++) h.failure('fixedWindow', 'error', 'ECONNREFUSED');
  h.down('connection closed'); // the connection's own event, after the first failed decision
  h.up();
  assert.deepEqual(
    lines.map((l) => l.msg.split(':')[0]),
    ['rate-limit store unavailable', 'rate-limit store available again'],
  );
  assert.equal(lines[0]!.fields.failedDecisions, 1);
  assert.equal(lines[1]!.fields.failedDecisions, 60);
});

test('... and when the dropped connection found it down first, with reminders in between', () => {
  let now = 0;
  const { lines, log } = capture();
  const h = new StoreHealth('redis://x', 'redis', 'gh:', log, () => now, 1000);
  h.up();
  h.down('connection closed');
  for (let i = 0; i < 30; i++) h.failure('slidingWindow', 'timeout', 'timed out');
  now = 1500;
  for (let i = 0; i < 30; i++) h.failure('slidingWindow', 'timeout', 'timed out');
  h.up();
  assert.deepEqual(
    lines.map((l) => l.msg.split(':')[0]),
    ['rate-limit store unavailable', 'rate-limit store still unavailable', 'rate-limit store available again'],
  );
  assert.equal(lines[0]!.fields.failedDecisions, 0);
  assert.equal(lines[1]!.fields.failedDecisions, 31);
  assert.equal(lines[2]!.fields.failedDecisions, 60);
  // A second outage counts from zero.
  now = 5000;
  h.failure('slidingWindow', 'timeout', 'timed out');
  h.up();
  assert.equal(lines.at(-1)!.fields.failedDecisions, 1);
});
