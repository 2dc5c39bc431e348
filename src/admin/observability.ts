// Admin endpoints of issue 7: GET /metrics (Prometheus text, every data plane added up with
// prom-client's AggregatorRegistry, plus the instance's own metrics) and GET /analytics.
import type { IncomingMessage } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Controller } from '../runtime/instance.js';
import { errorBody } from '../errors.js';
import { WINDOWS, type AnalyticsWindow } from '../observability/analytics/analytics.js';
import { analyticsReport, type AnalyticsPart } from '../observability/observer.js';

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
  if (!ctl.config.analytics.enabled) return [200, { window, enabled: false, routes: [], services: [], consumers: [], operations: [] }];
  const parts = (await ctl.inspect({ what: 'analytics', window })).filter((p): p is AnalyticsPart => p !== undefined && p !== null);
  return [200, { configVersion: ctl.version, ...analyticsReport(parts, window, ctl.config.analytics.topK) }];
}
