// W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing an incoming `traceparent`
// and making ids. An invalid traceparent is ignored (a new trace starts), as the spec asks.
import { randomFillSync } from 'node:crypto';

export interface ParentContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Parses `traceparent`; undefined when absent or invalid. */
export function parseTraceparent(value: string | undefined): ParentContext | undefined {
  if (value === undefined || value.length < 55) return undefined;
  const v = value.trim();
  const version = v.slice(0, 2);
  if (!HEX.test(version) || version === 'ff') return undefined;
  // Version 00 is exactly 55 characters; a later version may append fields after a dash.
  if (version === '00' ? v.length !== 55 : v.length > 55 && v[55] !== '-') return undefined;
  if (v[2] !== '-' || v[35] !== '-' || v[52] !== '-') return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** tracestate is passed on as received when it is plausible (bounded, printable). */
export function acceptTracestate(value: string | undefined): string | undefined {
  if (value === undefined || value.length === 0 || value.length > 512) return undefined;
  return /^[\x20-\x7e]+$/.test(value) ? value : undefined;
}

/**
 * Random ids from a pool: 4 KiB of random bytes, hex-encoded in one call, handed out as slices
 * (one randomFillSync and one hex encoding per 256 trace ids, instead of a call each per id).
 */
const pool = Buffer.alloc(4096);
let hexPool = '';
let offset = 0;

function randomHex(bytes: number): string {
  const chars = bytes * 2;
  if (offset + chars > hexPool.length) {
    randomFillSync(pool);
    hexPool = pool.toString('hex');
    offset = 0;
  }
  const s = hexPool.slice(offset, offset + chars);
  offset += chars;
  return s;
}

// An all-zero id is invalid; the first character is checked first: comparing a slice of the pool
// with a whole string takes V8's slow path.
export function newTraceId(): string {
  const id = randomHex(16);
  return id.charCodeAt(0) === 48 && id === ZERO_TRACE ? newTraceId() : id;
}

export function newSpanId(): string {
  const id = randomHex(8);
  return id.charCodeAt(0) === 48 && id === ZERO_SPAN ? newSpanId() : id;
}
