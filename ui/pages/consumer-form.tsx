// Create or edit a consumer: id (new ones only), username, groups, plan. A new consumer gets an API
// key made here (crypto.getRandomValues) unless unticked; the key is handed to the secret dialog once.
import { useState } from 'preact/hooks';
import { get, post, put, seg } from '../api';
import { messageOf, useLoad } from '../hooks';
import type { Consumer } from '../types';
import { Dialog } from '../components/dialog';
import { ErrorNote } from '../components/ui';
import { randomSecret, type NewSecret } from '../components/secret';

export function usePlans(): string[] {
  const plans = useLoad((signal) => get<{ plans: { name: string }[] }>('/config/plans', { signal }), []);
  return (plans.data?.plans ?? []).map((p) => p.name);
}

export function ConsumerForm({
  existing,
  onClose,
  onSaved,
}: {
  existing?: Consumer;
  onClose: () => void;
  onSaved: (c: Consumer, secret?: NewSecret) => void;
}) {
  const plans = usePlans();
  const [id, setId] = useState(existing?.id ?? '');
  const [username, setUsername] = useState(existing?.username ?? '');
  const [groups, setGroups] = useState(existing?.groups.join(', ') ?? '');
  const [plan, setPlan] = useState(existing?.plan ?? '');
  const [withKey, setWithKey] = useState(true);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Record<string, unknown> = {
      id: id.trim(),
      groups: groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean),
      ...(username.trim() ? { username: username.trim() } : {}),
      ...(plan ? { plan } : {}),
      ...(existing?.metadata ? { metadata: existing.metadata } : {}),
    };
    try {
      if (existing) {
        // PUT replaces the consumer: its credentials go back by id with their secrets as the literal
        // "[redacted]", which the gateway reads as "keep this credential's value".
        const saved = await put<Consumer>(`/consumers/${seg(existing.id)}`, { ...body, credentials: keptCredentials(existing) });
        onSaved(saved);
      } else {
        let key: string | undefined = withKey ? randomSecret('gh_') : undefined;
        const saved = await post<Consumer>('/consumers', { ...body, credentials: key ? [{ type: 'api-key', key }] : [] });
        const cred = saved.credentials[0];
        const secret: NewSecret | undefined =
          key && cred ? { consumer: saved.id, credential: cred.id, kind: 'API key', value: key } : undefined;
        key = undefined;
        onSaved(saved, secret);
      }
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={existing ? `Edit ${existing.id}` : 'New consumer'} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <div class="dialog-body form-grid">
          <label for="cf-id">Id</label>
          <input
            id="cf-id"
            required
            value={id}
            disabled={existing !== undefined}
            spellcheck={false}
            onInput={(e) => setId(e.currentTarget.value)}
          />
          <label for="cf-username">Username (optional)</label>
          <input id="cf-username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          <label for="cf-groups">Groups (comma-separated)</label>
          <input id="cf-groups" value={groups} onInput={(e) => setGroups(e.currentTarget.value)} />
          <label for="cf-plan">Plan</label>
          <select id="cf-plan" value={plan} onChange={(e) => setPlan(e.currentTarget.value)}>
            <option value="">(none: defaultPlan)</option>
            {plans.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
            {plan && !plans.includes(plan) ? <option value={plan}>{plan}</option> : null}
          </select>
          {existing ? null : (
            <label class="check">
              <input type="checkbox" checked={withKey} onChange={(e) => setWithKey(e.currentTarget.checked)} />
              Create an API key (shown once)
            </label>
          )}
          <ErrorNote error={error} />
        </div>
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {existing ? 'Save' : 'Create'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** The consumer's credentials as a PUT that must not change them sends them. */
export function keptCredentials(c: Consumer): Record<string, unknown>[] {
  return c.credentials.map((cr) =>
    cr.type === 'api-key'
      ? { type: cr.type, id: cr.id, key: REDACTED }
      : cr.type === 'basic'
        ? { type: cr.type, id: cr.id, username: cr.username, password: REDACTED }
        : { type: cr.type, id: cr.id, ...(cr.subject !== undefined ? { subject: cr.subject } : { san: cr.san }) },
  );
}

export const REDACTED = '[redacted]';
