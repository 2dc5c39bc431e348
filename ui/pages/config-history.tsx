// The config store's version history (GET /config/versions), a version's diff against the one
// before it, and rollback (POST /config/versions/:n/rollback). Hidden without a store (404).
import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { messageOf, useLoad } from '../hooks';
import { fmtTime } from '../format';
import type { VersionInfo } from '../types';
import { Confirm } from '../components/dialog';
import { ErrorNote, Note } from '../components/ui';

export interface Change {
  path: string;
  op?: string;
  before?: unknown;
  after?: unknown;
}

export function DiffView({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <p class="muted">No differences.</p>;
  return (
    <div class="table-scroll">
      <table class="table compact diff" data-testid="diff">
        <thead>
          <tr>
            <th scope="col">Path</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {changes.slice(0, 500).map((c, i) => (
            <tr key={i}>
              <td class="wrap">
                <code>{c.path}</code>
              </td>
              <td class="wrap del">{show(c.before)}</td>
              <td class="wrap ins">{show(c.after)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {changes.length > 500 ? <p class="muted">…and {changes.length - 500} more.</p> : null}
    </div>
  );
}

function show(v: unknown): string {
  if (v === undefined) return '(none)';
  const s = JSON.stringify(v);
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
}

export function History({ onRolledBack }: { onRolledBack: () => void }) {
  const versions = useLoad(
    (signal) => get<{ configVersion: number; versions: VersionInfo[] }>('/config/versions?limit=20', { signal }),
    [],
  );
  const [diff, setDiff] = useState<{ n: number; changes: Change[] } | undefined>(undefined);
  const [confirm, setConfirm] = useState<number | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  if (versions.data === undefined && !versions.error) return null;
  const showDiff = async (n: number) => {
    setError(undefined);
    try {
      const d = await get<{ changes: Change[] }>(`/config/diff?from=${n - 1}&to=${n}`);
      setDiff({ n, changes: d.changes });
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const rollback = async (n: number) => {
    setError(undefined);
    try {
      const r = await post<{ configVersion: number }>(`/config/versions/${n}/rollback`);
      setMessage(`Rolled back to version ${n}: now version ${r.configVersion}.`);
      versions.reload();
      onRolledBack();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <section class="panel" aria-labelledby="history-h">
      <h2 id="history-h">History</h2>
      <ErrorNote error={versions.error ?? error} />
      {message ? <Note kind="ok">{message}</Note> : null}
      <div class="table-scroll">
        <table class="table compact">
          <thead>
            <tr>
              <th scope="col" class="num">
                Version
              </th>
              <th scope="col">When</th>
              <th scope="col">Author</th>
              <th scope="col">Comment</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(versions.data?.versions ?? []).map((v) => (
              <tr key={v.version}>
                <td class="num">{v.version}</td>
                <td>{fmtTime(v.createdAt)}</td>
                <td class="wrap">{v.author}</td>
                <td class="wrap">{v.comment}</td>
                <td>
                  {v.version > 1 ? (
                    <button type="button" class="btn" onClick={() => void showDiff(v.version)}>
                      Diff<span class="sr-only"> of version {v.version}</span>
                    </button>
                  ) : null}{' '}
                  {v.version !== versions.data?.configVersion ? (
                    <button type="button" class="btn btn-danger" onClick={() => setConfirm(v.version)}>
                      Roll back<span class="sr-only"> to version {v.version}</span>
                    </button>
                  ) : (
                    <span class="muted small">running</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {diff ? (
        <>
          <h3>
            Version {diff.n - 1} → {diff.n}
          </h3>
          <DiffView changes={diff.changes} />
        </>
      ) : null}
      {confirm !== undefined ? (
        <Confirm
          title={`Roll back to version ${confirm}?`}
          message="Its config becomes a new version and is applied to every instance."
          action="Roll back"
          onClose={() => setConfirm(undefined)}
          onConfirm={() => void rollback(confirm)}
        />
      ) : null}
    </section>
  );
}
