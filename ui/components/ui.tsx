// Small shared pieces: error and status notes, a labelled field, a page heading.
import type { ComponentChildren } from 'preact';

export function ErrorNote({ error, title }: { error: string | undefined; title?: string }) {
  if (!error) return null;
  return (
    <div class="note note-error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {error}
    </div>
  );
}

export function Note({ children, kind = 'info' }: { children: ComponentChildren; kind?: 'info' | 'ok' | 'warn' }) {
  return (
    <div class={`note note-${kind}`} role="status">
      {children}
    </div>
  );
}

export function PageHead({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1 id="page-title" tabIndex={-1}>
        {title}
      </h1>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

/** A coloured state word; the colour is never the only signal (the word is there). */
export function Badge({ kind, children }: { kind: 'ok' | 'bad' | 'warn' | 'muted'; children: ComponentChildren }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}
