// Services: each service's targets with their health (GET /services/:name/health, polled every
// 3 s): available or not, ejections and why, the breaker's state, in-flight requests, latency.
import { get, seg } from '../api';
import { useLoad } from '../hooks';
import { fmtInt, fmtMs, fmtTime } from '../format';
import type { Analytics, HealthSnapshot, ServiceHealth, ServiceInfo, TargetHealth } from '../types';
import { Badge, ErrorNote, PageHead } from '../components/ui';

interface Row {
  info: ServiceInfo;
  health?: ServiceHealth;
  error?: string;
}

async function loadAll(signal: AbortSignal): Promise<Row[]> {
  const { services } = await get<{ services: ServiceInfo[] }>('/services', { signal });
  return Promise.all(
    services.map((info) =>
      get<ServiceHealth>(`/services/${seg(info.name)}/health`, { signal }).then(
        (health) => ({ info, health }),
        (err: unknown) => ({ info, error: err instanceof Error ? err.message : String(err) }),
      ),
    ),
  );
}

export function ServicesPage() {
  const rows = useLoad(loadAll, [], 3000);
  const analytics = useLoad((signal) => get<Analytics>('/analytics?window=1m', { signal }), [], 10000);
  const latency = new Map((analytics.data?.services ?? []).map((s) => [s.name, s]));
  return (
    <section aria-labelledby="page-title">
      <PageHead title="Services" />
      <ErrorNote error={rows.error} />
      {rows.data?.length === 0 ? <p class="muted">No services.</p> : null}
      {(rows.data ?? []).map((r) => {
        const a = latency.get(r.info.name);
        return (
          <section key={r.info.name} class="panel" aria-labelledby={`svc-${r.info.name}`} data-testid="service">
            <div class="panel-head">
              <h2 id={`svc-${r.info.name}`}>{r.info.name}</h2>
              <span class="muted small">
                {r.info.routes.length} route{r.info.routes.length === 1 ? '' : 's'}
                {a ? ` · ${fmtInt(a.requests)} requests/min · p50 ${fmtMs(a.latencyMs.p50)} · p95 ${fmtMs(a.latencyMs.p95)}` : ''}
              </span>
            </div>
            <ErrorNote error={r.error} />
            {r.health ? <Health h={r.health} /> : null}
          </section>
        );
      })}
    </section>
  );
}

function Health({ h }: { h: ServiceHealth }) {
  if (h.workers) {
    return (
      <>
        {h.workers.map((w, i) => (
          <div key={i}>
            <h3>Worker {i + 1}</h3>
            <Snapshot s={w} />
          </div>
        ))}
      </>
    );
  }
  return <Snapshot s={h as HealthSnapshot} />;
}

function Snapshot({ s }: { s: HealthSnapshot }) {
  const cb = s.circuitBreaker;
  // Per-target in-flight and latency columns only where the gateway reports them.
  const inFlight = s.targets.some((t) => t.inFlight !== undefined);
  const latency = s.targets.some((t) => t.latencyMs !== undefined);
  return (
    <>
      <p class="small">
        Circuit breaker:{' '}
        {cb ? (
          <>
            <Badge kind={cb.state === 'closed' ? 'ok' : cb.state === 'open' ? 'bad' : 'warn'}>{cb.state}</Badge> · {cb.trips} trips
            {cb.retryAfterMs > 0 ? ` · probe in ${fmtMs(cb.retryAfterMs)}` : ''}
          </>
        ) : (
          <span class="muted">not configured</span>
        )}
        {s.admission ? ` · in flight ${s.admission.inFlight}, queued ${s.admission.queued}` : ''}
      </p>
      <div class="table-scroll">
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col">Health</th>
              <th scope="col">Active check</th>
              <th scope="col" class="num">
                Ejections
              </th>
              {inFlight ? (
                <th scope="col" class="num">
                  In flight
                </th>
              ) : null}
              {latency ? (
                <th scope="col" class="num">
                  Latency
                </th>
              ) : null}
              <th scope="col">Last change</th>
            </tr>
          </thead>
          <tbody>
            {s.targets.map((t) => (
              <tr key={t.target} data-testid="target">
                <td class="wrap">
                  <code>{t.target}</code>
                </td>
                <td data-testid="target-health">
                  <TargetState t={t} />
                </td>
                <td>{t.active}</td>
                <td class="num">{t.ejections}</td>
                {inFlight ? <td class="num">{t.inFlight === undefined ? '–' : fmtInt(t.inFlight)}</td> : null}
                {latency ? <td class="num">{latencyText(t)}</td> : null}
                <td class="wrap small">
                  {t.events.length ? (
                    <>
                      {t.events[t.events.length - 1]!.change}: {t.events[t.events.length - 1]!.reason}{' '}
                      <span class="muted">({fmtTime(t.events[t.events.length - 1]!.at)})</span>
                    </>
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function TargetState({ t }: { t: TargetHealth }) {
  if (t.ejected) return <Badge kind="bad">down · ejected {t.ejectedForMs > 0 ? `(${Math.ceil(t.ejectedForMs / 1000)} s left)` : ''}</Badge>;
  if (!t.available || t.active === 'unhealthy') return <Badge kind="bad">down</Badge>;
  return <Badge kind="ok">up</Badge>;
}

function latencyText(t: TargetHealth): string {
  const l = t.latencyMs;
  if (l === undefined) return '–';
  if (typeof l === 'number') return fmtMs(l);
  return `p50 ${fmtMs(l.p50)} · p95 ${fmtMs(l.p95)}`;
}
