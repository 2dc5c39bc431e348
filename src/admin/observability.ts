// Admin endpoints of issue 7: GET /metrics (Prometheus text, every data plane added up with
// prom-client's AggregatorRegistry, plus the instance's own metrics) and GET /analytics.
import type { IncomingMessage } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Controller } from '../runtime/instance.js';
import { errorBody } from '../errors.js';
import { WINDOWS, type AnalyticsWindow } from '../observability/analytics/analytics.js';
import { analyticsReport, type AnalyticsPart } from '../observability/observer.js';
import { mergeSeconds, SECONDS, type SecondData } from '../observability/analytics/per-second.js';

export async function metricsEndpoint(ctl: Controller): Promise<[number, string, string]> {
  const planes = (await ctl.inspect({ what: 'metrics' })) as object[][];
  const parts = planes.filter((p) => Array.isArray(p) && p.length > 0);
  parts.push(await ctl.metrics.snapshot());
  const registry = AggregatorRegistry.aggregate(parts);
  return [200, await registry.metrics(), registry.contentType];
}

export async function analyticsEndpoint(ctl: Controller, req: IncomingMessage): Promise<[number, unknown]> {
  const q = (req.url ?? '').indexOf('?');
  const window = (q === -1 ? '1m' : (new URLSearchParams((req.url ?? '').slice(q + 1)).get('window') ?? '1m')) as AnalyticsWindow;
  if (!Object.hasOwn(WINDOWS, window)) {
    return [400, errorBody('ADMIN_BAD_QUERY', undefined, `window must be one of ${Object.keys(WINDOWS).join(', ')}.`)];
  }
  if (!ctl.config.analytics.enabled)
    return [200, { window, enabled: false, routes: [], services: [], consumers: [], operations: [], clientIps: [] }];
  const parts = (await ctl.inspect({ what: 'analytics', window })).filter((p): p is AnalyticsPart => p !== undefined && p !== null);
  return [200, { configVersion: ctl.version, ...analyticsReport(parts, window, ctl.config.analytics.topK) }];
}

/**
 * GET /analytics/timeseries?seconds=N (1–600, default 300): one point a second, every data plane
 * added up. Counted whenever the data plane observes finished requests (metrics, analytics, the
 * access log or tracing on; metrics are on by default).
 */
export async function timeseriesEndpoint(ctl: Controller, req: IncomingMessage): Promise<[number, unknown]> {
  const q = (req.url ?? '').indexOf('?');
  const raw = q === -1 ? null : new URLSearchParams((req.url ?? '').slice(q + 1)).get('seconds');
  const seconds = raw === null ? 300 : /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds >= 1 && seconds <= SECONDS))
    return [400, errorBody('ADMIN_BAD_QUERY', undefined, `seconds must be a whole number from 1 to ${SECONDS}.`)];
  const parts = (await ctl.inspect({ what: 'timeseries', seconds })).filter((p): p is SecondData[] => Array.isArray(p));
  return [200, { step: 1, points: mergeSeconds(parts, Math.floor(Date.now() / 1000), seconds) }];
}
