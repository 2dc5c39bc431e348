// The counts of one route, service or consumer over one minute, and the plain-data form that is
// merged across minutes, workers and instances.
import { BUCKETS, quantile } from './latency-buckets.js';
import { TopK, topOf } from './top-k.js';

export const DIMENSIONS = ['route', 'service', 'consumer', 'operation'] as const;
export type Dimension = (typeof DIMENSIONS)[number];
/** Every request of a minute, whatever its route: the report's top client IPs. */
export const TOTAL_KEY = 'total\u0000all';

/** One request, as analytics see it. */
export interface AnalyticsSample {
  route: string | undefined;
  service: string | undefined;
  consumer: string | undefined;
  /** The operation the request carried, as ranked: "query GetUser" (GraphQL). */
  operation?: string | undefined;
  status: number;
  durationMs: number;
  errorCode: string | undefined;
  clientIp: string | undefined;
  userAgent: string | undefined;
}

/** Mergeable plain data (sums). Latency: bucket index → count. */
export interface EntryData {
  requests: number;
  errors: number;
  clientErrors: number;
  rateLimited: number;
  authFailed: number;
  latency: Record<string, number>;
  ips: Record<string, number>;
  agents: Record<string, number>;
}

export class Entry {
  requests = 0;
  errors = 0;
  clientErrors = 0;
  rateLimited = 0;
  authFailed = 0;
  readonly latency = new Uint32Array(BUCKETS);
  readonly ips: TopK;
  readonly agents: TopK;

  constructor(topCapacity: number) {
    this.ips = new TopK(topCapacity);
    this.agents = new TopK(topCapacity);
  }

  add(s: AnalyticsSample, bucket: number): void {
    this.requests++;
    const st = s.status;
    if (st >= 500 || st === 0) this.errors++;
    else if (st >= 400) {
      this.clientErrors++;
      if (st === 429) this.rateLimited++;
    }
    if (s.errorCode === 'GW_UNAUTHORIZED' || s.errorCode === 'GW_FORBIDDEN') this.authFailed++;
    this.latency[bucket]!++;
    if (s.clientIp !== undefined) this.ips.add(s.clientIp);
    if (s.userAgent !== undefined) this.agents.add(s.userAgent);
  }

  data(): EntryData {
    const latency: Record<string, number> = {};
    for (let i = 0; i < BUCKETS; i++) if (this.latency[i]) latency[i] = this.latency[i]!;
    return {
      requests: this.requests,
      errors: this.errors,
      clientErrors: this.clientErrors,
      rateLimited: this.rateLimited,
      authFailed: this.authFailed,
      latency,
      ips: Object.fromEntries(this.ips.counts),
      agents: Object.fromEntries(this.agents.counts),
    };
  }
}

export function emptyData(): EntryData {
  return { requests: 0, errors: 0, clientErrors: 0, rateLimited: 0, authFailed: 0, latency: {}, ips: {}, agents: {} };
}

/** Adds `b` into `a`. */
export function mergeInto(a: EntryData, b: EntryData): void {
  a.requests += b.requests;
  a.errors += b.errors;
  a.clientErrors += b.clientErrors;
  a.rateLimited += b.rateLimited;
  a.authFailed += b.authFailed;
  for (const k in b.latency) a.latency[k] = (a.latency[k] ?? 0) + b.latency[k]!;
  for (const k in b.ips) a.ips[k] = (a.ips[k] ?? 0) + b.ips[k]!;
  for (const k in b.agents) a.agents[k] = (a.agents[k] ?? 0) + b.agents[k]!;
}

/** `dimension\u0000name` → data: what a window of one data plane (or of Redis) holds. */
export type Summary = Record<string, EntryData>;

export function mergeSummaries(parts: Summary[]): Summary {
  const out: Summary = {};
  for (const p of parts) for (const k in p) mergeInto((out[k] ??= emptyData()), p[k]!);
  return out;
}

export interface ReportEntry {
  name: string;
  requests: number;
  errors: number;
  errorRate: number;
  clientErrors: number;
  rateLimited: number;
  authFailed: number;
  latencyMs: { p50: number | undefined; p95: number | undefined; p99: number | undefined };
  topClientIps: { value: string; count: number }[];
  topUserAgents: { value: string; count: number }[];
}

export function reportOf(
  summary: Summary,
  topK: number,
): Record<'routes' | 'services' | 'consumers' | 'operations', ReportEntry[]> & { clientIps: { value: string; count: number }[] } {
  const out = {
    routes: [] as ReportEntry[],
    services: [] as ReportEntry[],
    consumers: [] as ReportEntry[],
    operations: [] as ReportEntry[],
    clientIps: topOf(summary[TOTAL_KEY]?.ips ?? {}, topK),
  };
  for (const key of Object.keys(summary).sort()) {
    if (key === TOTAL_KEY) continue;
    const sep = key.indexOf('\u0000');
    const dim = key.slice(0, sep) as Dimension;
    const d = summary[key]!;
    const counts = new Array<number>(BUCKETS).fill(0);
    for (const i in d.latency) counts[Number(i)] = d.latency[i]!;
    out[`${dim}s`].push({
      name: key.slice(sep + 1),
      requests: d.requests,
      errors: d.errors,
      errorRate: d.requests ? Math.round((d.errors / d.requests) * 10_000) / 10_000 : 0,
      clientErrors: d.clientErrors,
      rateLimited: d.rateLimited,
      authFailed: d.authFailed,
      latencyMs: {
        p50: quantile(counts, d.requests, 0.5),
        p95: quantile(counts, d.requests, 0.95),
        p99: quantile(counts, d.requests, 0.99),
      },
      topClientIps: topOf(d.ips, topK),
      topUserAgents: topOf(d.agents, topK),
    });
  }
  return out;
}
