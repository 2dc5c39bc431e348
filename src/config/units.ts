// Durations ("500ms", "30s", "1m", "1h", "1d") and sizes ("512kb", "10mb") as written in config.
// Numbers are accepted too: milliseconds for durations, bytes for sizes.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)$/i;

/** Milliseconds for a duration; throws on a malformed one (the schema rejects those first). */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = DURATION_PATTERN.exec(value.trim());
  if (!m) throw new Error(`invalid duration "${value}" (use e.g. 500ms, 30s, 1m, 1h)`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

/** Bytes for a size; throws on a malformed one (the schema rejects those first). */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = SIZE_PATTERN.exec(value.trim());
  if (!m) throw new Error(`invalid size "${value}" (use e.g. 512kb, 10mb)`);
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

/** Node runs a timer of more than 2^31-1 ms (24.8 days) after 1 ms: the longest wait a timer can have. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
