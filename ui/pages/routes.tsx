// Routes: the route table in match order (GET /routes), a filter, and the explain form.
import { useMemo, useState } from 'preact/hooks';
import { get } from '../api';
import { useLoad } from '../hooks';
import type { RouteRow } from '../types';
import { ErrorNote, PageHead } from '../components/ui';
import { ExplainForm } from './explain';

/** Rows put in the DOM at a time: 1,000 routes render in pages, not at once. */
const STEP = 100;

export function RoutesPage() {
  const routes = useLoad((signal) => get<{ configVersion: number; routes: RouteRow[] }>('/routes', { signal }), []);
  const [filter, setFilter] = useState('');
  const [shown, setShown] = useState(STEP);
  const all = routes.data?.routes ?? [];
  const matching = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f === '' ? all : all.filter((r) => searchText(r).includes(f));
  }, [all, filter]);
  const rows = matching.slice(0, shown);
  return (
    <section aria-labelledby="page-title">
      <PageHead title="Routes" />
      <ExplainForm />
      <section class="panel" aria-labelledby="table-h">
        <div class="panel-head">
          <h2 id="table-h">Route table, in match order</h2>
          <div class="field-inline">
            <label for="route-filter">Filter</label>
            <input
              id="route-filter"
              type="search"
              placeholder="name, path, host, service, policy"
              value={filter}
              onInput={(e) => {
                setFilter(e.currentTarget.value);
                setShown(STEP);
              }}
            />
          </div>
        </div>
        <ErrorNote error={routes.error} />
        <p class="muted" role="status" data-testid="route-count">
          {routes.loading && !routes.data
            ? 'Loading…'
            : `${matching.length} of ${all.length} routes (config version ${routes.data?.configVersion ?? '–'})`}
        </p>
        <div class="table-scroll">
          <table class="table" aria-labelledby="table-h">
            <thead>
              <tr>
                <th scope="col" class="num">
                  #
                </th>
                <th scope="col">Route</th>
                <th scope="col">Match</th>
                <th scope="col">Service</th>
                <th scope="col">Policies</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.order}`}>
                  <td class="num">{r.order}</td>
                  <td class="wrap">
                    <strong>{r.route}</strong>
                    {r.priority !== 0 ? <span class="muted"> (priority {r.priority})</span> : null}
                  </td>
                  <td class="wrap">
                    <code>{r.methods?.join(',') ?? '*'}</code> <code>{r.host === '*' ? '' : r.host}</code>
                    <code>{r.path}</code>
                    {conditions(r).map((c) => (
                      <div key={c} class="muted small">
                        {c}
                      </div>
                    ))}
                  </td>
                  <td class="wrap">
                    {r.service}
                    {r.rewrite ? <div class="muted small">{r.rewrite}</div> : null}
                  </td>
                  <td class="wrap">{r.policies.length ? r.policies.join(', ') : <span class="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {matching.length > shown ? (
          <button type="button" class="btn" onClick={() => setShown(shown + STEP * 5)}>
            Show more ({matching.length - shown} left)
          </button>
        ) : null}
      </section>
    </section>
  );
}

function conditions(r: RouteRow): string[] {
  return [
    ...r.headers.map((h) => `header ${h}`),
    ...r.query.map((q) => `query ${q}`),
    ...r.body,
    ...(r.websocket ? ['websocket'] : []),
    ...(r.redirectHttps ? [`redirect to ${r.redirectHttps}`] : []),
  ];
}

function searchText(r: RouteRow): string {
  return [r.route, r.host, r.path, r.service, ...(r.methods ?? []), ...r.policies, ...conditions(r)].join(' ').toLowerCase();
}
