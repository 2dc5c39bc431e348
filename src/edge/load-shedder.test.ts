import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadShedder } from './load-shedder.js';

test('in-flight threshold: sheds at the limit, not below', () => {
  const s = new LoadShedder();
  s.configure({ maxInflight: 3, retryAfter: '2500ms' });
  assert.equal(s.overloaded(2), false);
  assert.equal(s.overloaded(3), true);
  assert.equal(s.retryAfter, '3', 'Retry-After is whole seconds, rounded up');
  s.stop();
});

test('lag threshold: sheds while the measured lag is over it; off when not configured', () => {
  const s = new LoadShedder();
  s.configure({ maxEventLoopLag: '100ms', retryAfter: '1s' });
  s.lag = 150;
  assert.equal(s.overloaded(0), true);
  s.lag = 50;
  assert.equal(s.overloaded(0), false);
  s.configure({ retryAfter: '1s' });
  s.lag = 10_000;
  assert.equal(s.overloaded(1_000_000), false, 'no thresholds: never sheds');
  s.stop();
});
