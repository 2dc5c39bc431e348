// The JSON shapes of the admin API endpoints the console reads (src/admin/*.ts, docs/admin-api.md).

export interface RouteRow {
  order: number;
  route: string;
  priority: number;
  host: string;
  path: string;
  methods: string[] | null;
  headers: string[];
  query: string[];
  body: string[];
  service: string;
  rewrite: string | null;
  redirectHttps: string | null;
  websocket: boolean;
  policies: string[];
}

export interface Overview {
  version: string;
  configVersion: number;
  startedAt: string;
  uptimeSeconds: number;
  workers: number;
  stores: { name: string; kind: string; state: string }[];
  configStore: { present: boolean; version?: number };
  routes: number;
  services: number;
  consumers: number;
}

export interface TimePoint {
  t: number;
  requests: number;
  errors: number;
  clientErrors: number;
  rateLimited: number;
  authFailed: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface TopValue {
  value: string;
  count: number;
}

export interface AnalyticsRow {
  name: string;
  requests: number;
  errors: number;
  errorRate: number;
  clientErrors: number;
  rateLimited: number;
  authFailed: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  topClientIps?: TopValue[];
}

export interface Analytics {
  enabled?: boolean;
  window: string;
  routes: AnalyticsRow[];
  services: AnalyticsRow[];
  consumers: AnalyticsRow[];
  clientIps?: TopValue[];
}

export interface ServiceInfo {
  name: string;
  targets: { url: string; weight: number }[];
  routes: string[];
}

export interface TargetHealth {
  target: string;
  available: boolean;
  active: string;
  ejected: boolean;
  ejectedForMs: number;
  ejections: number;
  consecutiveFailures: number;
  inFlight?: number;
  latencyMs?: number | { p50?: number; p95?: number; p99?: number };
  events: { at: string; change: string; reason: string }[];
}

export interface HealthSnapshot {
  service?: string;
  targets: TargetHealth[];
  circuitBreaker?: { state: string; trips: number; retryAfterMs: number };
  admission?: { inFlight: number; queued: number };
}

export interface ServiceHealth extends Partial<HealthSnapshot> {
  configVersion: number;
  /** With workers: one snapshot per worker. */
  workers?: HealthSnapshot[];
}

export interface Credential {
  id: string;
  type: 'api-key' | 'basic' | 'mtls';
  username?: string;
  subject?: string;
  san?: string;
}

export interface Consumer {
  id: string;
  username?: string;
  groups: string[];
  plan?: string;
  metadata?: Record<string, unknown>;
  credentials: Credential[];
}

export interface ConsumerPage {
  consumers: Consumer[];
  next?: string | null;
}

export interface Usage {
  consumer: string;
  plan?: string;
  limits: { policy: string; route?: string; limit: number; window: string; used: number; remaining: number; resetsAt: string }[];
}

export interface Explanation {
  matched: boolean;
  status: number;
  reason: string;
  canonicalPath?: string;
  route?: RouteRow;
  params?: Record<string, string>;
  upstream?: { target: string; path: string; host: string };
  policies?: { type: string; scope: string; order: string; phases: readonly string[] }[];
  allow?: string[];
  candidates?: { order: number; route: string; host: string; path: string; outcome: 'matched' | 'lost'; reason: string }[];
}

export interface ConfigChange {
  path: string;
  before?: unknown;
  after?: unknown;
  op?: string;
}

export interface VersionInfo {
  version: number;
  author: string;
  comment: string;
  createdAt: string;
}

export interface ClusterMember {
  id: string;
  address: string;
  appliedVersion: number;
  lastHeartbeat: string;
  lagging: boolean;
  stale: boolean;
  self?: boolean;
}
