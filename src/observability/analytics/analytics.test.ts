import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopK } from './top-k.js';
import { bucketOf, quantile, upperBound, BUCKETS } from './latency-buckets.js';
import { Analytics } from './analytics.js';
import { reportOf, type AnalyticsSample } from './entry.js';

test('space-saving keeps the heavy hitters within a fixed number of counters', () => {
  const k = new TopK(20); // keeps every item above N/20 ≈ 675 of ~13 500
  for (let i = 0; i < 10_000; i++) {
    k.add(`rare-${i}`); // a long tail of one-off items
    if (i % 4 === 0) k.add('heavy-a');
    if (i % 10 === 0) k.add('heavy-b');
  }
  assert.equal(k.counts.size, 20);
  const top = k.top(2).map((t) => t.value);
  assert.deepEqual(top, ['heavy-a', 'heavy-b']);
  assert.ok(k.top(1)[0]!.count >= 2500, 'never under-counted');
});

test('latency buckets: percentiles within one bucket (20 %) of the truth', () => {
  const counts = new Array<number>(BUCKETS).fill(0);
  for (let ms = 1; ms <= 1000; ms++) counts[bucketOf(ms)]!++;
  for (const [q, truth] of [
    [0.5, 500],
    [0.95, 950],
    [0.99, 990],
  ] as const) {
    const got = quantile(counts, 1000, q)!;
    assert.ok(got >= truth && got <= truth * 1.2, `p${q * 100}: ${got} vs ${truth}`);
  }
  assert.equal(quantile(counts, 0, 0.5), undefined);
  assert.ok(upperBound(BUCKETS - 1) > 60_000, 'the last bucket reaches past a minute');
});

const sample = (o: Partial<AnalyticsSample>): AnalyticsSample => ({
  route: 'r',
  service: 's',
  consumer: undefined,
  status: 200,
  durationMs: 5,
  errorCode: undefined,
  clientIp: '10.0.0.1',
  userAgent: 'ua',
  ...o,
});

test('windows: 1m is this minute, 15m and 1h reach back; old minutes fall out of the ring', () => {
  let now = Date.UTC(2026, 0, 1, 12, 0, 30);
  const a = new Analytics(3, () => now);
  a.record(sample({ status: 500 }));
  now += 60_000; // next minute
  a.record(sample({ status: 429, consumer: 'alice' }));
  a.record(sample({ status: 401, errorCode: 'GW_UNAUTHORIZED', clientIp: '10.0.0.2', userAgent: 'bot' }));
  const one = reportOf(a.summary('1m'), 3);
  assert.equal(one.routes[0]!.requests, 2);
  assert.equal(one.routes[0]!.rateLimited, 1);
  assert.equal(one.routes[0]!.authFailed, 1);
  assert.equal(one.routes[0]!.errors, 0);
  assert.deepEqual(
    one.consumers.map((c) => [c.name, c.requests]),
    [['alice', 1]],
  );
  const fifteen = reportOf(a.summary('15m'), 3);
  assert.equal(fifteen.services[0]!.requests, 3);
  assert.equal(fifteen.services[0]!.errors, 1);
  assert.equal(fifteen.services[0]!.errorRate, 0.3333);
  assert.deepEqual(fifteen.routes[0]!.topClientIps, [
    { value: '10.0.0.1', count: 2 },
    { value: '10.0.0.2', count: 1 },
  ]);
  assert.deepEqual(fifteen.routes[0]!.topUserAgents[0], { value: 'ua', count: 2 });
  now += 60 * 60_000; // an hour later: everything is outside every window
  a.record(sample({}));
  assert.equal(reportOf(a.summary('1h'), 3).routes[0]!.requests, 1);
});

test('consumers per minute are bounded: the rest count as (other)', () => {
  const a = new Analytics(3, () => 0, 2);
  for (const c of ['a', 'b', 'c', 'd', 'a']) a.record(sample({ consumer: c }));
  const r = reportOf(a.summary('1m'), 3);
  assert.deepEqual(
    r.consumers.map((c) => [c.name, c.requests]),
    [
      ['(other)', 2],
      ['a', 2],
      ['b', 1],
    ],
  );
});
