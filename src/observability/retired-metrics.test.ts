import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Registry } from 'prom-client';
import { RetiredMetrics } from './retired-metrics.js';

async function report(requests: number, inflight: number): Promise<object[]> {
  const registry = new Registry();
  new Counter({ name: 'reqs_total', help: 'h', registers: [registry] }).inc(requests);
  new Gauge({ name: 'inflight', help: 'h', registers: [registry] }).set(inflight);
  return await registry.getMetricsAsJSON();
}

const value = (metrics: object[] | undefined, name: string) =>
  (metrics as { name: string; values: { value: number }[] }[] | undefined)?.find((m) => m.name === name)?.values[0]?.value;

test('dead workers: their counters are kept and summed, their gauges dropped', async () => {
  const r = new RetiredMetrics();
  assert.equal(await r.snapshot(), undefined);
  r.seen(1, await report(10, 3));
  r.seen(2, await report(7, 1));
  r.seen(1, await report(12, 2)); // the latest report counts
  r.died(1);
  assert.equal(value(await r.snapshot(), 'reqs_total'), 12);
  assert.equal(value(await r.snapshot(), 'inflight'), undefined);
  r.died(2);
  assert.equal(value(await r.snapshot(), 'reqs_total'), 19);
  r.died(3); // never reported: nothing to keep
  assert.equal(value(await r.snapshot(), 'reqs_total'), 19);
});

test('a report that cannot be added up is dropped; the totals so far stay', async () => {
  const r = new RetiredMetrics();
  r.seen(1, await report(5, 0));
  r.died(1);
  r.seen(2, [{ name: 'reqs_total', type: 'counter', help: 'h', values: 'not a list' }]);
  r.died(2);
  assert.equal(value(await r.snapshot(), 'reqs_total'), 5);
});
