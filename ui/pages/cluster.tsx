// Cluster (config store only): the instances and the version each has applied (GET /cluster).
import { get } from '../api';
import { useLoad } from '../hooks';
import { fmtTime } from '../format';
import type { ClusterMember } from '../types';
import { Badge, ErrorNote, PageHead } from '../components/ui';

export function ClusterPage() {
  const c = useLoad((signal) => get<{ latestVersion: number; instances: ClusterMember[] }>('/cluster', { signal }), [], 5000);
  return (
    <section aria-labelledby="page-title">
      <PageHead title="Cluster" />
      <ErrorNote error={c.error} />
      {c.data ? (
        <section class="panel">
          <p>
            Latest stored version: <strong>{c.data.latestVersion}</strong>
          </p>
          <div class="table-scroll">
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">Instance</th>
                  <th scope="col">Address</th>
                  <th scope="col" class="num">
                    Applied version
                  </th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {c.data.instances.map((m) => (
                  <tr key={m.id}>
                    <td class="wrap">
                      {m.id}
                      {m.self ? <span class="muted"> (this one)</span> : null}
                    </td>
                    <td class="wrap">{m.address}</td>
                    <td class="num">{m.appliedVersion}</td>
                    <td>{fmtTime(m.lastHeartbeat)}</td>
                    <td>
                      {m.stale ? <Badge kind="bad">stale</Badge> : null} {m.lagging ? <Badge kind="warn">lagging</Badge> : null}
                      {!m.stale && !m.lagging ? <Badge kind="ok">current</Badge> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </section>
  );
}
