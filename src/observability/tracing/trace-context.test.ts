import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptTracestate, formatTraceparent, newSpanId, newTraceId, parseTraceparent } from './trace-context.js';
import { nanos } from './otlp-exporter.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

test('traceparent: valid ones are read, every malformed one is refused', () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-00`), { traceId: T, spanId: S, sampled: false });
  assert.deepEqual(parseTraceparent(`01-${T}-${S}-03-future`), { traceId: T, spanId: S, sampled: true }, 'a later version may add fields');
  for (const bad of [
    undefined,
    '',
    `ff-${T}-${S}-01`,
    `00-${T}-${S}-01-extra`,
    `00-${T.toUpperCase()}-${S}-01`,
    `00-${'0'.repeat(32)}-${S}-01`,
    `00-${T}-${'0'.repeat(16)}-01`,
    `00-${T}-${S}-0g`,
    `00_${T}-${S}-01`,
    `00-${T.slice(1)}-${S}-01`,
    `01-${T}-${S}-01x`,
  ])
    assert.equal(parseTraceparent(bad), undefined, String(bad));
});

test('ids are lowercase hex of the right length and differ', () => {
  const ids = new Set(Array.from({ length: 2000 }, () => newSpanId()));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
  assert.match(newTraceId(), /^[0-9a-f]{32}$/);
  assert.equal(formatTraceparent(T, S, true), `00-${T}-${S}-01`);
});

test('tracestate is kept only when plausible; nanoseconds never lose precision', () => {
  assert.equal(acceptTracestate('a=1,b=2'), 'a=1,b=2');
  assert.equal(acceptTracestate('x'.repeat(513)), undefined);
  assert.equal(acceptTracestate('a=\u0001'), undefined);
  assert.equal(nanos(1_700_000_000_123.5), '1700000000123500000');
  assert.equal(nanos(5), '5000000');
});
