// The last 600 seconds of one data plane, a second at a time: requests, 5xx, 4xx, rate-limited,
// auth-failed and a latency histogram per second, in flat typed arrays allocated once (about 200
// KB). Recording a request is a few counter increments and one bucket: it runs for every finished
// request (the console's live charts: GET /analytics/timeseries). Seconds are added up across
// workers by the admin API; a slot not written for a second it is asked about counts as empty.
import { BUCKETS, quantile } from './latency-buckets.js';

export const SECONDS = 600;

/** One second as the admin API merges it: sums, and the latency bucket counts (index → count). */
export interface SecondData {
  t: number;
  requests: number;
  errors: number;
  clientErrors: number;
  rateLimited: number;
  authFailed: number;
  latency: Record<number, number>;
}

/** One second as GET /analytics/timeseries answers it: the sums, and latency percentiles (ms). */
export type SecondPoint = Omit<SecondData, 'latency'> & { p50: number | null; p95: number | null; p99: number | null };

export class PerSecond {
  /** The second each slot holds (-1: never written). */
  private readonly second = new Float64Array(SECONDS).fill(-1);
  private readonly requests = new Uint32Array(SECONDS);
  private readonly errors = new Uint32Array(SECONDS);
  private readonly clientErrors = new Uint32Array(SECONDS);
  private readonly rateLimited = new Uint32Array(SECONDS);
  private readonly authFailed = new Uint32Array(SECONDS);
  private readonly latency = new Uint32Array(SECONDS * BUCKETS);

  /**
   * One finished request in second `t` (unix seconds). `limited`: refused by a rate limit or
   * quota; `authFailed`: refused by an identity policy.
   */
  record(t: number, status: number, bucket: number, limited: boolean, authFailed: boolean): void {
    const slot = t % SECONDS;
    if (this.second[slot] !== t) this.reset(slot, t);
    this.requests[slot]!++;
    if (status >= 500 || status === 0) this.errors[slot]!++;
    else if (status >= 400) this.clientErrors[slot]!++;
    if (limited) this.rateLimited[slot]!++;
    if (authFailed) this.authFailed[slot]!++;
    this.latency[slot * BUCKETS + bucket]!++;
  }

  private reset(slot: number, t: number): void {
    this.second[slot] = t;
    this.requests[slot] = 0;
    this.errors[slot] = 0;
    this.clientErrors[slot] = 0;
    this.rateLimited[slot] = 0;
    this.authFailed[slot] = 0;
    this.latency.fill(0, slot * BUCKETS, (slot + 1) * BUCKETS);
  }

  /** The seconds from `now - seconds + 1` to `now` that saw requests, oldest first. */
  read(now: number, seconds: number): SecondData[] {
    const out: SecondData[] = [];
    for (let t = now - Math.min(seconds, SECONDS) + 1; t <= now; t++) {
      const slot = t % SECONDS;
      if (this.second[slot] !== t || this.requests[slot] === 0) continue;
      const latency: Record<number, number> = {};
      for (let i = 0; i < BUCKETS; i++) {
        const n = this.latency[slot * BUCKETS + i]!;
        if (n) latency[i] = n;
      }
      out.push({
        t,
        requests: this.requests[slot]!,
        errors: this.errors[slot]!,
        clientErrors: this.clientErrors[slot]!,
        rateLimited: this.rateLimited[slot]!,
        authFailed: this.authFailed[slot]!,
        latency,
      });
    }
    return out;
  }
}

/** Every plane's seconds added up, one point per second from `now - seconds + 1` to `now` (empty seconds as zeros). */
export function mergeSeconds(parts: SecondData[][], now: number, seconds: number): SecondPoint[] {
  const first = now - seconds + 1;
  const sums: SecondData[] = Array.from({ length: seconds }, (_, i) => ({
    t: first + i,
    requests: 0,
    errors: 0,
    clientErrors: 0,
    rateLimited: 0,
    authFailed: 0,
    latency: {},
  }));
  for (const part of parts)
    for (const d of part) {
      const s = sums[d.t - first];
      if (s === undefined) continue; // a worker whose clock read a second later
      s.requests += d.requests;
      s.errors += d.errors;
      s.clientErrors += d.clientErrors;
      s.rateLimited += d.rateLimited;
      s.authFailed += d.authFailed;
      for (const k in d.latency) s.latency[k] = (s.latency[k] ?? 0) + d.latency[k]!;
    }
  return sums.map(({ latency, ...sums }) => {
    const counts = new Array<number>(BUCKETS).fill(0);
    for (const k in latency) counts[Number(k)] = latency[k]!;
    const q = (x: number) => quantile(counts, sums.requests, x) ?? null;
    return { ...sums, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
  });
}
