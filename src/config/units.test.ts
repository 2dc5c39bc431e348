import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseSize } from './units.js';
import { interpolateString, type InterpolationIssue } from './interpolate.js';

test('durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration(250), 250);
  assert.throws(() => parseDuration('5 parsecs'));
});

test('sizes', () => {
  assert.equal(parseSize('512kb'), 512 * 1024);
  assert.equal(parseSize('10mb'), 10 * 1024 * 1024);
  assert.equal(parseSize('1GB'), 1024 ** 3);
  assert.equal(parseSize('100b'), 100);
  assert.equal(parseSize(7), 7);
  assert.throws(() => parseSize('ten'));
});

test('interpolation: set, default, empty, escaped, missing', () => {
  const issues: InterpolationIssue[] = [];
  const env = { A: 'x', E: '' };
  assert.equal(interpolateString('${A}-${B:-dflt}-${E:-d2}-${E}', env, 'p', issues), 'x-dflt-d2-');
  assert.equal(interpolateString('$${A}', env, 'p', issues), '${A}');
  assert.equal(issues.length, 0);
  interpolateString('${MISSING}', env, 'a.b', issues);
  assert.equal(issues[0]!.path, 'a.b');
});
