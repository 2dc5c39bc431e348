import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './clock.js';
import { ServiceState } from './service-state.js';
import { validateConfig } from '../validation/validate.js';
import type { ServiceConfig } from '../config/schema.js';

function service(extra: object): ServiceConfig {
  const r = validateConfig({
    services: {
      s: {
        targets: [
          { url: 'http://127.0.0.1:1' },
          { url: 'http://127.0.0.1:2' },
          { url: 'http://127.0.0.1:3' },
          { url: 'http://127.0.0.1:4' },
        ],
        ...extra,
      },
    },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.config.services.s!;
}

function setup(passive: object) {
  const clock = new ManualClock();
  const state = new ServiceState('s', clock, undefined, 'off');
  const cfg = service({ healthCheck: { passive } });
  state.configure(cfg);
  const [a, b, c] = cfg.targets.map((t) => state.targets.get(t.url)!);
  let changes = 0;
  state.subscribe(() => changes++);
  return { clock, state, a: a!, b: b!, c: c!, changes: () => changes };
}

test('ejected after consecutiveFailures, back after baseEjection; the next ejection lasts longer', () => {
  const { clock, state, a, changes } = setup({ consecutiveFailures: 3, baseEjection: '10s', maxEjection: '25s' });
  state.recordPassive(a, true, 'x');
  state.recordPassive(a, true, 'x');
  assert.ok(a.available(clock.now()));
  state.recordPassive(a, true, 'x');
  assert.ok(!a.available(clock.now()));
  assert.equal(changes(), 1);
  clock.advance(9_999);
  assert.ok(!a.available(clock.now()));
  clock.advance(1);
  assert.ok(a.available(clock.now()));
  assert.equal(changes(), 2);
  for (let i = 0; i < 3; i++) state.recordPassive(a, true, 'x');
  assert.equal(a.ejectedUntil - clock.now(), 20_000);
  clock.advance(20_000);
  for (let i = 0; i < 3; i++) state.recordPassive(a, true, 'x');
  assert.equal(a.ejectedUntil - clock.now(), 25_000, 'capped at maxEjection');
  assert.deepEqual(
    a.events.map((e) => e.change),
    ['ejected', 'returned', 'ejected', 'returned', 'ejected'],
  );
});

test('a success resets the failure count; a long healthy stretch forgives the ejection streak', () => {
  const { clock, state, a } = setup({ consecutiveFailures: 2, baseEjection: '10s' });
  state.recordPassive(a, true, 'x');
  state.recordPassive(a, false, 'ok');
  state.recordPassive(a, true, 'x');
  assert.ok(a.available(clock.now()));
  state.recordPassive(a, true, 'x');
  assert.ok(!a.available(clock.now()));
  clock.advance(10_000);
  clock.advance(10_000);
  state.recordPassive(a, false, 'ok');
  assert.equal(a.ejectionStreak, 0);
  state.recordPassive(a, true, 'x');
  state.recordPassive(a, true, 'x');
  assert.equal(a.ejectedUntil - clock.now(), 10_000);
});

test('maxEjectionPercent bounds how many targets are ejected at once', () => {
  const { clock, state, a, b, c } = setup({ consecutiveFailures: 1, maxEjectionPercent: 50 });
  state.recordPassive(a, true, 'x');
  state.recordPassive(b, true, 'x');
  state.recordPassive(c, true, 'x'); // 3 of 4 would be 75 %
  const now = clock.now();
  assert.deepEqual(
    [a, b, c].map((t) => t.available(now)),
    [false, false, true],
  );
});

test('failures that are not in failOn do not count', async () => {
  const { countsAsFailure } = await import('./attempt-result.js');
  const failOn = new Set(['connect-error']);
  assert.equal(countsAsFailure(failOn, 503, undefined), false);
  assert.equal(countsAsFailure(failOn, undefined, 'timeout'), false);
  assert.equal(countsAsFailure(failOn, undefined, 'connect-error'), true);
  assert.equal(countsAsFailure(new Set(['5xx']), 502, undefined), true);
  assert.equal(countsAsFailure(new Set(['5xx']), 404, undefined), false);
});

function activeService(active: boolean, dnsTtl = '1h', url = 'http://127.0.0.1:1'): ServiceConfig {
  const r = validateConfig({
    services: { s: { dnsTtl, targets: [{ url }, { url: 'http://127.0.0.1:2' }], ...(active ? { healthCheck: { active: {} } } : {}) } },
  });
  assert.ok(r.ok);
  return r.config.services.s!;
}

test('remote probing: a verdict for a target not known yet applies when it appears; turning checks off restores it', () => {
  const clock = new ManualClock();
  const state = new ServiceState('s', clock, undefined, 'remote');
  state.setActiveVerdict('http://127.0.0.1:1', false, 'active check answered 500');
  state.configure(activeService(true));
  const t = state.targets.get('http://127.0.0.1:1')!;
  assert.equal(t.available(clock.now()), false);
  let changes = 0;
  state.subscribe(() => changes++);
  state.configure(activeService(false));
  assert.equal(t.available(clock.now()), true);
  assert.equal(changes, 1);
});

test('a new dnsTtl keeps the resolved addresses and their health', async () => {
  const clock = new ManualClock();
  const lookup = () =>
    Promise.resolve([
      { address: '10.0.0.1', family: 4 },
      { address: '10.0.0.2', family: 4 },
    ]);
  const state = new ServiceState('s', clock, undefined, 'local', lookup);
  const cfg = (ttl: string) => {
    const r = validateConfig({
      services: {
        s: { dnsTtl: ttl, targets: [{ url: 'http://backend.internal:80' }], healthCheck: { passive: { consecutiveFailures: 1 } } },
      },
    });
    assert.ok(r.ok);
    return r.config.services.s!;
  };
  state.configure(cfg('1h'));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    state.members.map((m) => m.key),
    ['http://backend.internal:80|10.0.0.1', 'http://backend.internal:80|10.0.0.2'],
  );
  const first = state.targets.get('http://backend.internal:80|10.0.0.1')!;
  state.recordPassive(first, true, 'x');
  assert.equal(first.available(clock.now()), false);
  state.configure(cfg('2h'));
  assert.deepEqual(
    state.members.map((m) => m.key),
    ['http://backend.internal:80|10.0.0.1', 'http://backend.internal:80|10.0.0.2'],
  );
  assert.equal(state.targets.get('http://backend.internal:80|10.0.0.1'), first);
  assert.equal(first.available(clock.now()), false);
  state.close();
});
