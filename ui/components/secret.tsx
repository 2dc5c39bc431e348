// A new secret (API key or password), shown once. The owner passes it in and drops it when the
// dialog closes: nothing keeps it afterwards, and the admin API never returns it again.
import { useRef, useState } from 'preact/hooks';
import { Dialog } from './dialog';

export interface NewSecret {
  consumer: string;
  credential: string;
  kind: 'API key' | 'password';
  value: string;
}

export function SecretDialog({ secret, onClose }: { secret: NewSecret; onClose: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret.value);
      setCopied('Copied to the clipboard.');
    } catch {
      // Not a secure context (plain HTTP beyond loopback): select it for Ctrl+C instead.
      input.current?.select();
      setCopied('Selected: press Ctrl+C (⌘C) to copy.');
    }
  };
  return (
    <Dialog title={`New ${secret.kind} for ${secret.consumer}`} onClose={onClose}>
      <div class="dialog-body">
        <p>
          This is the only time the {secret.kind} of credential <code>{secret.credential}</code> is shown. Copy it now: the gateway keeps
          it, but neither the console nor the admin API will show it again.
        </p>
        <label for="new-secret">{secret.kind}</label>
        <div class="secret-row">
          <input id="new-secret" ref={input} class="secret" readOnly value={secret.value} spellcheck={false} autoComplete="off" />
          <button type="button" class="btn btn-primary" onClick={() => void copy()}>
            Copy
          </button>
        </div>
        <p class="muted" role="status">
          {copied}
        </p>
      </div>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

/** 32 random bytes, base64url: a key nobody guesses (made here, sent once, shown once). */
export function randomSecret(prefix = ''): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return prefix + btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
