// Overview: live charts from GET /analytics/timeseries (polled every 2 s), the top routes,
// consumers and client IPs from GET /analytics, and the instance from GET /overview.
import { get } from '../api';
import { useLoad } from '../hooks';
import { fmtDuration, fmtInt, fmtMs, fmtPct } from '../format';
import type { Analytics, Overview, TimePoint, TopValue } from '../types';
import { TimeChart } from '../components/chart';
import { Badge, ErrorNote, Note, PageHead, Stat } from '../components/ui';
import { useMemo } from 'preact/hooks';

const SECONDS = 300;

export function OverviewPage() {
  const series = useLoad((signal) => get<{ points: TimePoint[] }>(`/analytics/timeseries?seconds=${SECONDS}`, { signal }), [], 2000);
  const analytics = useLoad((signal) => get<Analytics>('/analytics?window=1m', { signal }), [], 5000);
  const overview = useLoad((signal) => get<Overview>('/overview', { signal }), [], 10000);
  const points = series.data?.points ?? [];
  const totals = useMemo(() => sum(points), [points]);
  const charts = useMemo(() => chartData(points), [points]);
  const last = lastFull(points);
  return (
    <section aria-labelledby="page-title">
      <PageHead title="Overview" />
      <ErrorNote title="Live numbers" error={series.error} />
      <div class="stats" aria-live="off">
        <Stat label="Requests / s (last second)" value={fmtInt(last?.requests)} testId="rps" />
        <Stat label={`Requests (${SECONDS / 60} min)`} value={fmtInt(totals.requests)} testId="requests-total" />
        <Stat label="Error rate (5xx)" value={totals.requests ? fmtPct(totals.errors / totals.requests) : '–'} testId="error-rate" />
        <Stat label="Rate-limited" value={fmtInt(totals.rateLimited)} testId="rate-limited" />
        <Stat label="Auth failed" value={fmtInt(totals.authFailed)} testId="auth-failed" />
        <Stat label="p95 latency (last second)" value={fmtMs(last?.p95)} />
      </div>
      <div class="charts">
        <TimeChart
          title="Requests per second"
          unit=""
          series={[
            { label: 'requests', color: '#1f5fbf' },
            { label: '5xx', color: '#b3261e', dash: [6, 3] },
            { label: '4xx', color: '#8a5a00', dash: [2, 3] },
          ]}
          data={charts.rate}
          summary={`${fmtInt(last?.requests)} requests in the last second`}
        />
        <TimeChart
          title="Error rate (5xx)"
          unit="%"
          series={[{ label: 'errors', color: '#b3261e' }]}
          data={charts.errorRate}
          summary={totals.requests ? fmtPct(totals.errors / totals.requests) : 'no traffic'}
        />
        <TimeChart
          title="Latency"
          unit=" ms"
          series={[
            { label: 'p50', color: '#1f7a3a' },
            { label: 'p95', color: '#1f5fbf', dash: [6, 3] },
            { label: 'p99', color: '#6b2fa3', dash: [2, 3] },
          ]}
          data={charts.latency}
          summary={`p95 ${fmtMs(last?.p95)}`}
        />
      </div>
      <div class="grid-3">
        <TopTable title="Top routes (1 min)" rows={analytics.data?.routes} enabled={analytics.data?.enabled} />
        <TopTable title="Top consumers (1 min)" rows={analytics.data?.consumers} enabled={analytics.data?.enabled} />
        <TopIps ips={analytics.data ? clientIps(analytics.data) : undefined} />
      </div>
      <ErrorNote title="Analytics" error={analytics.error} />
      <Instance data={overview.data} error={overview.error} />
    </section>
  );
}

function Instance({ data, error }: { data: Overview | undefined; error: string | undefined }) {
  if (error) return <ErrorNote title="Instance" error={error} />;
  if (!data) return null;
  return (
    <section class="panel" aria-labelledby="instance-h">
      <h2 id="instance-h">Instance</h2>
      <dl class="facts">
        <dt>Version</dt>
        <dd>{data.version}</dd>
        <dt>Config version</dt>
        <dd data-testid="config-version">{data.configVersion}</dd>
        <dt>Uptime</dt>
        <dd>{fmtDuration(data.uptimeSeconds)}</dd>
        <dt>Workers</dt>
        <dd>{data.workers}</dd>
        <dt>Routes / services / consumers</dt>
        <dd>
          {fmtInt(data.routes)} / {fmtInt(data.services)} / {fmtInt(data.consumers)}
        </dd>
        <dt>Config store</dt>
        <dd>{data.configStore.present ? `present (version ${data.configStore.version ?? '?'})` : 'none (config file)'}</dd>
        <dt>Stores</dt>
        <dd>
          {data.stores.length === 0
            ? 'none'
            : data.stores.map((s) => (
                <span key={s.name} class="store">
                  {s.name} ({s.kind}) <Badge kind={s.state === 'up' || s.state === 'ok' ? 'ok' : 'bad'}>{s.state}</Badge>{' '}
                </span>
              ))}
        </dd>
      </dl>
    </section>
  );
}

function TopTable({ title, rows, enabled }: { title: string; rows: Analytics['routes'] | undefined; enabled: boolean | undefined }) {
  return (
    <section class="panel" aria-label={title}>
      <h2>{title}</h2>
      {enabled === false ? (
        <Note>Analytics are off (analytics.enabled).</Note>
      ) : !rows || rows.length === 0 ? (
        <p class="muted">No traffic in the last minute.</p>
      ) : (
        <table class="table compact">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                5xx
              </th>
              <th scope="col" class="num">
                p95
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name}>
                <td class="wrap">{r.name}</td>
                <td class="num">{fmtInt(r.requests)}</td>
                <td class="num">{fmtPct(r.errorRate)}</td>
                <td class="num">{fmtMs(r.latencyMs.p95)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function TopIps({ ips }: { ips: TopValue[] | undefined }) {
  return (
    <section class="panel" aria-label="Top client IPs (1 min)">
      <h2>Top client IPs (1 min)</h2>
      {!ips || ips.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <table class="table compact">
          <thead>
            <tr>
              <th scope="col">Client IP</th>
              <th scope="col" class="num">
                Requests
              </th>
            </tr>
          </thead>
          <tbody>
            {ips.map((r) => (
              <tr key={r.value}>
                <td>{r.value}</td>
                <td class="num">{fmtInt(r.count)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** GET /analytics `clientIps`, or — from a gateway without it — the routes' top IPs added up. */
function clientIps(a: Analytics): TopValue[] {
  if (a.clientIps) return a.clientIps;
  const m = new Map<string, number>();
  for (const r of a.routes) for (const ip of r.topClientIps ?? []) m.set(ip.value, (m.get(ip.value) ?? 0) + ip.count);
  return [...m]
    .map(([value, count]) => ({ value, count }))
    .sort((x, y) => y.count - x.count)
    .slice(0, 10);
}

function sum(points: TimePoint[]) {
  const t = { requests: 0, errors: 0, rateLimited: 0, authFailed: 0 };
  for (const p of points) {
    t.requests += p.requests;
    t.errors += p.errors;
    t.rateLimited += p.rateLimited;
    t.authFailed += p.authFailed;
  }
  return t;
}

/** The last second that is over (the current one is still counting). */
function lastFull(points: TimePoint[]): TimePoint | undefined {
  const now = Math.floor(Date.now() / 1000);
  for (let i = points.length - 1; i >= 0; i--) if (points[i]!.t < now) return points[i];
  return points[points.length - 1];
}

function chartData(points: TimePoint[]) {
  const t = points.map((p) => p.t);
  return {
    rate: [t, points.map((p) => p.requests), points.map((p) => p.errors), points.map((p) => p.clientErrors)] as [number[], ...number[][]],
    errorRate: [t, points.map((p) => (p.requests ? (100 * p.errors) / p.requests : null))] as [number[], ...(number | null)[][]],
    latency: [t, points.map((p) => p.p50), points.map((p) => p.p95), points.map((p) => p.p99)] as [number[], ...(number | null)[][]],
  };
}
