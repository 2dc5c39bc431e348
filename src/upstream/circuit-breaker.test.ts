import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type BreakerSettings, type BreakerTransition } from './circuit-breaker.js';
import { ManualClock } from './clock.js';

const settings: BreakerSettings = {
  windowMs: 10_000,
  failureRatio: 0.5,
  minRequests: 10,
  consecutiveFailures: undefined,
  openMs: 1000,
  maxOpenMs: 3000,
  halfOpenRequests: 2,
};

function setup(over: Partial<BreakerSettings> = {}) {
  const clock = new ManualClock();
  const moves: BreakerTransition[] = [];
  const b = new CircuitBreaker({ ...settings, ...over }, clock, (t) => moves.push(t));
  const run = (failed: boolean) => {
    const a = b.admit();
    assert.notEqual(a, 'reject');
    b.record(failed, a);
  };
  return { clock, b, moves, run };
}

test('stays closed below minRequests even when every request fails', () => {
  const { b, run } = setup();
  for (let i = 0; i < 9; i++) run(true);
  assert.equal(b.state, 'closed');
  run(true);
  assert.equal(b.state, 'open');
});

test('opens when the failure ratio in the window reaches failureRatio', () => {
  const { b, run, moves } = setup();
  for (let i = 0; i < 6; i++) run(false);
  for (let i = 0; i < 5; i++) run(true); // 5 / 11 < 0.5
  assert.equal(b.state, 'closed');
  run(true); // 6 / 12 = 0.5
  assert.equal(b.state, 'open');
  assert.match(moves[0]!.reason, /failure ratio 0.50 over 12/);
});

test('old outcomes leave the rolling window', () => {
  const { b, run, clock } = setup();
  for (let i = 0; i < 9; i++) run(true);
  clock.advance(11_000);
  run(true); // the nine earlier failures are out of the window: 1 request
  assert.equal(b.state, 'closed');
});

test('opens after consecutiveFailures; a success resets the streak', () => {
  const { b, run } = setup({ consecutiveFailures: 3, minRequests: 1000 });
  run(true);
  run(true);
  run(false);
  run(true);
  run(true);
  assert.equal(b.state, 'closed');
  run(true);
  assert.equal(b.state, 'open');
});

test('open rejects until openDuration, then half-open admits exactly halfOpenRequests probes', () => {
  const { b, run, clock } = setup({ consecutiveFailures: 1 });
  run(true);
  assert.equal(b.admit(), 'reject');
  assert.equal(b.retryAfterMs(), 1000);
  clock.advance(999);
  assert.equal(b.admit(), 'reject');
  clock.advance(1);
  assert.equal(b.admit(), 'probe');
  assert.equal(b.state, 'half-open');
  assert.equal(b.admit(), 'probe');
  assert.equal(b.admit(), 'reject');
});

test('successful probes close it; a failed probe re-opens it for twice as long, capped', () => {
  const { b, run, clock, moves } = setup({ consecutiveFailures: 1 });
  run(true);
  clock.advance(1000);
  let p = b.admit();
  b.record(true, p); // probe fails: open for 2 s
  assert.equal(b.state, 'open');
  assert.equal(b.retryAfterMs(), 2000);
  clock.advance(2000);
  p = b.admit();
  b.record(true, p); // 4 s capped at 3 s
  assert.equal(b.retryAfterMs(), 3000);
  clock.advance(3000);
  const p1 = b.admit();
  const p2 = b.admit();
  b.record(false, p1);
  assert.equal(b.state, 'half-open');
  b.record(false, p2);
  assert.equal(b.state, 'closed');
  assert.deepEqual(
    moves.map((m) => m.to),
    ['open', 'half-open', 'open', 'half-open', 'open', 'half-open', 'closed'],
  );
  // After closing, the next trip starts again at openDuration.
  run(true);
  assert.equal(b.retryAfterMs(), 1000);
});

test('a cancelled probe frees its slot', () => {
  const { b, run, clock } = setup({ consecutiveFailures: 1, halfOpenRequests: 1 });
  run(true);
  clock.advance(1000);
  assert.equal(b.admit(), 'probe');
  assert.equal(b.admit(), 'reject');
  b.cancelProbe();
  assert.equal(b.admit(), 'probe');
});

test('a probe from an earlier half-open period cannot decide the current one', () => {
  const { b, run, clock } = setup({ consecutiveFailures: 1 });
  run(true);
  clock.advance(1000);
  const early1 = b.admit();
  const early2 = b.admit();
  const cycle1 = b.cycle;
  b.record(true, early2, cycle1); // fails: open again (2 s)
  clock.advance(2000);
  const now1 = b.admit();
  assert.equal(now1, 'probe');
  b.record(false, early1, cycle1); // late success of the old period: ignored
  assert.equal(b.state, 'half-open');
  assert.equal(b.admit(), 'probe', 'the late probe did not take a slot of this period');
  assert.equal(b.admit(), 'reject');
  b.cancelProbe(cycle1); // ignored too
  assert.equal(b.admit(), 'reject');
});
