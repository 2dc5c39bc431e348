// The login view: the admin token is exchanged for an HttpOnly session cookie (POST /ui/session).
// The token lives in this form's field until it is sent, then the field is cleared; it is never
// stored by the console.
import { useRef, useState } from 'preact/hooks';
import { ApiError, login, type Session } from './api';
import { messageOf } from './hooks';

export function Login({ onLogin, reason }: { onLogin: (s: Session) => void; reason?: string }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const el = field.current;
    if (!el || el.value.trim() === '') {
      setError('Enter the admin token.');
      el?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const s = await login(el.value);
      el.value = '';
      onLogin(s);
    } catch (err) {
      el.value = '';
      setError(
        err instanceof ApiError && err.status === 401
          ? 'That token was refused. Check admin.token in the gateway config.'
          : err instanceof ApiError && err.status === 429
            ? 'Too many failed logins: wait a minute and try again.'
            : messageOf(err),
      );
      el.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form class="login-card" onSubmit={(e) => void submit(e)} aria-describedby="login-help">
        <h1>Gatehouse console</h1>
        {reason ? <p class="muted">{reason}</p> : null}
        <p id="login-help">Sign in with the admin API token (admin.token). The console keeps a session cookie, not the token.</p>
        <label for="token">Admin token</label>
        <input
          id="token"
          ref={field}
          type="password"
          name="token"
          autoComplete="current-password"
          spellcheck={false}
          aria-invalid={error ? 'true' : undefined}
          aria-errormessage={error ? 'login-error' : undefined}
        />
        {error ? (
          <p id="login-error" class="note note-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
