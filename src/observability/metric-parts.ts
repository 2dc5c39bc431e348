// The pieces the gateway's own metrics are built of: fixed-bucket latency histograms and counters
// keyed by label values, both turned into prom-client's JSON form when scraped.

/** Status classes by index: 0 = none (no status: the client left first), 1..5 = 1xx..5xx. */
export const CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function classIndex(status: number): number {
  return status >= 100 && status < 600 ? (status / 100) | 0 : 0;
}

/** A histogram's counts: per bucket (not cumulative), then sum and count. */
export class Hist {
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  values(name: string, labels: Record<string, string>): object[] {
    const out: object[] = [];
    let cum = 0;
    for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
      cum += this.counts[i]!;
      out.push({
        value: cum,
        metricName: `${name}_bucket`,
        labels: { le: i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i] : '+Inf', ...labels },
      });
    }
    out.push({ value: this.sum, metricName: `${name}_sum`, labels }, { value: this.count, metricName: `${name}_count`, labels });
    return out;
  }
}

/** Counters keyed by their label values (policy-fed, and per consumer). */
export class LabelledCounts {
  private readonly m = new Map<string, { labels: Record<string, string>; n: number }>();
  constructor(private readonly names: readonly string[]) {}
  inc(values: string[], by = 1): void {
    const key = values.join('\u0000');
    const e = this.m.get(key);
    if (e) e.n += by;
    else this.m.set(key, { labels: Object.fromEntries(this.names.map((n, i) => [n, values[i]!])), n: by });
  }
  values(): object[] {
    return [...this.m.values()].map((e) => ({ value: e.n, labels: e.labels }));
  }
}

/**
 * A label whose values are the client's words (operation names, method paths): each route keeps
 * at most `max` distinct ones, the rest count as "(other)", so a client inventing names cannot grow
 * the series without bound. No value at all is `absent`.
 */
export class BoundedLabel {
  private readonly seen = new Map<string, Set<string>>();

  constructor(
    private readonly max: number,
    private readonly absent: string,
  ) {}

  of(route: string, value: string | undefined): string {
    if (value === undefined) return this.absent;
    let values = this.seen.get(route);
    if (values === undefined) this.seen.set(route, (values = new Set()));
    if (values.has(value)) return value;
    if (values.size >= this.max) return '(other)';
    values.add(value);
    return value;
  }
}
