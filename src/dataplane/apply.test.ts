// A data plane applies a config all or nothing: a plan that does not compile leaves the current
// plan and the current observability (access log, metrics, tracing) as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataPlane } from './dataplane.js';
import { validateConfig } from '../validation/validate.js';
import { silentLogger } from '../observability/logger.js';
import type { GatehouseConfig } from '../config/schema.js';

function config(over: Record<string, unknown>): GatehouseConfig {
  const result = validateConfig({
    accessLog: false,
    metrics: { enabled: false },
    services: { svc: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', match: { paths: ['/*'] }, service: 'svc' }],
    ...over,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

test('a config that does not compile changes nothing, observability included', async () => {
  const dp = new DataPlane(config({}), silentLogger);
  try {
    const before = dp.plan;
    assert.equal(dp.timed, false);
    // Valid, then broken where only compiling notices (a route naming a service that is gone).
    const next = config({
      accessLog: { path: '/dev/null' },
      metrics: { enabled: true },
      tracing: { endpoint: 'http://127.0.0.1:1/v1/traces' },
    });
    const broken: GatehouseConfig = { ...next, routes: [{ ...next.routes[0]!, service: 'missing' }] };
    assert.throws(() => dp.apply(broken), /service missing is not defined/);
    assert.equal(dp.plan, before);
    assert.equal(dp.timed, false);
    assert.equal(dp.tracer, undefined);
    assert.equal(dp.obs.accessLog, undefined);
    assert.deepEqual(await dp.obs.metricsJson(), []);
    // The same config, whole, applies: one compile, and everything turns on together.
    const plan = dp.apply(next);
    assert.equal(dp.plan, plan);
    assert.notEqual(plan, before);
    assert.equal(dp.timed, true);
    assert.notEqual(dp.tracer, undefined);
    assert.notEqual(dp.obs.accessLog, undefined);
  } finally {
    await dp.destroy();
  }
});
