// One consumer: its details, credentials (add, rotate, revoke — a new secret is shown once), its
// usage against the limits that apply to it (GET /consumers/:id/usage), edit and delete.
import { useState } from 'preact/hooks';
import { del, get, post, put, seg, ApiError } from '../api';
import { messageOf, useLoad } from '../hooks';
import { fmtInt, fmtTime } from '../format';
import { href } from '../router';
import type { Consumer, Credential, Usage } from '../types';
import { Confirm, Dialog } from '../components/dialog';
import { Badge, ErrorNote, Note } from '../components/ui';
import { randomSecret, type NewSecret } from '../components/secret';
import { ConsumerForm } from './consumer-form';

type Modal =
  | { kind: 'edit' }
  | { kind: 'delete' }
  | { kind: 'add' }
  | { kind: 'rotate'; cred: Credential }
  | { kind: 'revoke'; cred: Credential }
  | undefined;

export function ConsumerDetail({ id, onChanged, onSecret }: { id: string; onChanged: () => void; onSecret: (s: NewSecret) => void }) {
  const c = useLoad((signal) => get<Consumer>(`/consumers/${seg(id)}`, { signal }), [id]);
  const usage = useLoad((signal) => get<Usage>(`/consumers/${seg(id)}/usage`, { signal }), [id], 5000);
  const [modal, setModal] = useState<Modal>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const act = async (what: () => Promise<unknown>, message: string) => {
    setError(undefined);
    setDone(undefined);
    try {
      await what();
      setDone(message);
      c.reload();
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  if (c.error) return <ErrorNote title={`Consumer ${id}`} error={c.error} />;
  const consumer = c.data;
  if (!consumer) return <p class="muted panel">Loading {id}…</p>;
  const rotate = (cred: Credential) =>
    act(async () => {
      const value = randomSecret(cred.type === 'api-key' ? 'gh_' : '');
      const body = cred.type === 'api-key' ? { type: 'api-key', key: value } : { type: 'basic', username: cred.username, password: value };
      await put(`/consumers/${seg(id)}/credentials/${seg(cred.id)}`, body);
      onSecret({ consumer: id, credential: cred.id, kind: cred.type === 'api-key' ? 'API key' : 'password', value });
    }, `Credential ${cred.id} rotated: the old secret no longer works.`);
  return (
    <section class="panel" aria-labelledby="consumer-h" data-testid="consumer-detail">
      <div class="panel-head">
        <h2 id="consumer-h">{consumer.id}</h2>
        <div class="page-actions">
          <button type="button" class="btn" onClick={() => setModal({ kind: 'edit' })}>
            Edit
          </button>
          <button type="button" class="btn btn-danger" onClick={() => setModal({ kind: 'delete' })}>
            Delete
          </button>
        </div>
      </div>
      {done ? <Note kind="ok">{done}</Note> : null}
      <ErrorNote error={error} />
      <dl class="facts">
        <dt>Username</dt>
        <dd>{consumer.username ?? <span class="muted">none</span>}</dd>
        <dt>Groups</dt>
        <dd>{consumer.groups.length ? consumer.groups.join(', ') : <span class="muted">none</span>}</dd>
        <dt>Plan</dt>
        <dd data-testid="consumer-plan">{consumer.plan ?? <span class="muted">none (defaultPlan)</span>}</dd>
      </dl>
      <div class="panel-head">
        <h3>Credentials</h3>
        <button type="button" class="btn" onClick={() => setModal({ kind: 'add' })}>
          Add credential
        </button>
      </div>
      {consumer.credentials.length === 0 ? (
        <p class="muted">No credentials: this consumer cannot be identified by key, password or certificate.</p>
      ) : (
        <ul class="creds">
          {consumer.credentials.map((cr) => (
            <li key={cr.id}>
              <span class="wrap">
                <code>{cr.id}</code> <Badge kind="muted">{cr.type}</Badge> {cr.username ?? cr.subject ?? cr.san ?? ''}
              </span>
              <span class="page-actions">
                {cr.type !== 'mtls' ? (
                  <button type="button" class="btn" onClick={() => setModal({ kind: 'rotate', cred: cr })}>
                    Rotate<span class="sr-only"> {cr.id}</span>
                  </button>
                ) : null}
                <button type="button" class="btn btn-danger" onClick={() => setModal({ kind: 'revoke', cred: cr })}>
                  Revoke<span class="sr-only"> {cr.id}</span>
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      <h3>Usage against limits</h3>
      <UsageTable usage={usage.data} error={usage.error} />
      {modal?.kind === 'edit' ? (
        <ConsumerForm
          existing={consumer}
          onClose={() => setModal(undefined)}
          onSaved={() => {
            setModal(undefined);
            setDone('Saved.');
            c.reload();
            usage.reload();
            onChanged();
          }}
        />
      ) : null}
      {modal?.kind === 'delete' ? (
        <Confirm
          title={`Delete ${consumer.id}?`}
          message="Its credentials stop working at once."
          action="Delete"
          onClose={() => setModal(undefined)}
          onConfirm={() =>
            void del(`/consumers/${seg(id)}`).then(
              () => {
                onChanged();
                location.hash = href('consumers');
              },
              (err: unknown) => setError(messageOf(err)),
            )
          }
        />
      ) : null}
      {modal?.kind === 'rotate' ? (
        <Confirm
          title={`Rotate ${modal.cred.id}?`}
          message="A new secret replaces the old one at once; clients using the old one are refused."
          action="Rotate"
          onClose={() => setModal(undefined)}
          onConfirm={() => void rotate(modal.cred)}
        />
      ) : null}
      {modal?.kind === 'revoke' ? (
        <Confirm
          title={`Revoke ${modal.cred.id}?`}
          message="The credential is removed; clients using it are refused."
          action="Revoke"
          onClose={() => setModal(undefined)}
          onConfirm={() => {
            const cred = modal.cred;
            void act(() => del(`/consumers/${seg(id)}/credentials/${seg(cred.id)}`), `Credential ${cred.id} revoked.`);
          }}
        />
      ) : null}
      {modal?.kind === 'add' ? (
        <AddCredential
          id={id}
          onClose={() => setModal(undefined)}
          onAdded={(s) => {
            setModal(undefined);
            c.reload();
            onChanged();
            if (s) onSecret(s);
          }}
        />
      ) : null}
    </section>
  );
}

function UsageTable({ usage, error }: { usage: Usage | undefined; error: string | undefined }) {
  if (error) return <p class="muted">{error}</p>;
  if (!usage) return <p class="muted">Loading…</p>;
  if (usage.limits.length === 0) return <p class="muted">No rate limit or quota applies to this consumer.</p>;
  return (
    <div class="table-scroll">
      <table class="table compact" data-testid="usage">
        <thead>
          <tr>
            <th scope="col">Limit</th>
            <th scope="col" class="num">
              Used
            </th>
            <th scope="col" class="num">
              Remaining
            </th>
            <th scope="col">Resets</th>
          </tr>
        </thead>
        <tbody>
          {usage.limits.map((l, i) => (
            <tr key={i}>
              <td class="wrap">
                {l.policy}
                {l.route ? ` (${l.route})` : ''}: {fmtInt(l.limit)} / {l.window}
              </td>
              <td class="num">{fmtInt(l.used)}</td>
              <td class="num">{fmtInt(l.remaining)}</td>
              <td>{fmtTime(l.resetsAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AddCredential({ id, onClose, onAdded }: { id: string; onClose: () => void; onAdded: (s?: NewSecret) => void }) {
  const [type, setType] = useState<'api-key' | 'basic' | 'mtls'>('api-key');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const value = type === 'mtls' ? '' : randomSecret(type === 'api-key' ? 'gh_' : '');
    const body =
      type === 'api-key'
        ? { type, key: value }
        : type === 'basic'
          ? { type, username: name.trim(), password: value }
          : { type, subject: name.trim() };
    try {
      const cred = await post<Credential>(`/consumers/${seg(id)}/credentials`, body);
      onAdded(
        type === 'mtls' ? undefined : { consumer: id, credential: cred.id, kind: type === 'api-key' ? 'API key' : 'password', value },
      );
    } catch (err) {
      setError(
        err instanceof ApiError && err.details.length ? err.details.map((d) => `${d.path}: ${d.message}`).join('; ') : messageOf(err),
      );
    }
  };
  return (
    <Dialog title={`Add a credential to ${id}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <div class="dialog-body form-grid">
          <label for="ac-type">Type</label>
          <select id="ac-type" value={type} onChange={(e) => setType(e.currentTarget.value as typeof type)}>
            <option value="api-key">API key (generated)</option>
            <option value="basic">Basic (password generated)</option>
            <option value="mtls">mTLS (certificate subject CN)</option>
          </select>
          {type !== 'api-key' ? (
            <>
              <label for="ac-name">{type === 'basic' ? 'Username' : 'Certificate subject (CN)'}</label>
              <input id="ac-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </>
          ) : null}
          <ErrorNote error={error} />
        </div>
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary">
            Add
          </button>
        </div>
      </form>
    </Dialog>
  );
}
