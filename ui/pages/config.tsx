// Config: the running config as YAML (GET /config?format=yaml&consumers=omit: consumers belong to
// their own page), validated, diffed and applied with POST /validate?diff=1 and POST /config
// (content-type application/yaml, ?consumers=keep). Errors are listed and marked at their line.
// With a config store: the version history and rollback.
import { useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, request, type FieldError } from '../api';
import { messageOf, useLoad } from '../hooks';
import { CodeEditor, type EditorHandle } from '../components/code-editor';
import { ErrorNote, Note, PageHead } from '../components/ui';
import { DiffView, History, type Change } from './config-history';

type Outcome =
  | { kind: 'valid'; diff?: Change[] }
  | { kind: 'applied'; version: number; unchanged: boolean }
  | { kind: 'errors'; errors: FieldError[] }
  | { kind: 'conflict'; message: string }
  | { kind: 'failed'; message: string };

export function ConfigPage({ hasStore }: { hasStore: boolean }) {
  // The ETag of the config the editor started from: Apply sends it as If-Match, so a change made
  // meanwhile (another admin, a reload, a rollback) is not overwritten without being asked.
  const etag = useRef<string | undefined>(undefined);
  const running = useLoad(
    (signal) =>
      get<string>('/config?format=yaml&consumers=omit', {
        signal,
        asText: true,
        onHeaders: (h) => (etag.current = h.get('etag') ?? undefined),
      }),
    [],
  );
  const [text, setText] = useState<string | undefined>(undefined);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const editor = useRef<EditorHandle | null>(null);
  const value = text ?? running.data ?? '';
  const dirty = text !== undefined && text !== running.data;
  const errorLines = useMemo(
    () => new Set(outcome?.kind === 'errors' ? outcome.errors.map((e) => e.line).filter((l): l is number => l !== undefined) : []),
    [outcome],
  );
  const send = async (apply: boolean, force = false) => {
    setBusy(true);
    try {
      const path = apply ? '/config?consumers=keep' : '/validate?diff=1&consumers=keep';
      const r = await request<{ valid?: boolean; diff?: Change[]; configVersion?: number; unchanged?: boolean }>('POST', path, {
        text: value,
        contentType: 'application/yaml',
        headers: {
          'x-gatehouse-comment': apply ? 'applied from the console' : '',
          ...(apply && !force && etag.current !== undefined ? { 'if-match': etag.current } : {}),
        },
      });
      if (apply) {
        setOutcome({ kind: 'applied', version: r.configVersion ?? 0, unchanged: r.unchanged === true });
        setText(undefined);
        running.reload();
      } else setOutcome({ kind: 'valid', ...(r.diff ? { diff: r.diff } : {}) });
    } catch (err) {
      if (err instanceof ApiError && err.details.length > 0) {
        setOutcome({ kind: 'errors', errors: err.details });
        const first = err.details.find((d) => d.line !== undefined)?.line;
        if (first !== undefined) editor.current?.reveal(first);
      } else if (err instanceof ApiError && err.status === 412) setOutcome({ kind: 'conflict', message: err.message });
      else setOutcome({ kind: 'failed', message: messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="page-title">
      <PageHead title="Config">
        <button type="button" class="btn" disabled={busy} onClick={() => void send(false)}>
          Validate &amp; diff
        </button>
        <button type="button" class="btn btn-primary" disabled={busy} onClick={() => void send(true)}>
          Apply
        </button>
        <button
          type="button"
          class="btn btn-quiet"
          disabled={!dirty}
          onClick={() => {
            setText(undefined);
            setOutcome(undefined);
            running.reload();
          }}
        >
          Revert edits
        </button>
      </PageHead>
      <p class="muted small" id="config-help">
        The running config as YAML, secrets shown as [redacted] (sent back as is, they keep their value). Consumers are edited on the
        Consumers page and kept when you apply. Applying reloads the gateway without dropping requests.{' '}
        {dirty ? 'Edited, not applied.' : ''}
      </p>
      <ErrorNote title="Loading the config" error={running.error} />
      <div role="status" aria-live="polite" data-testid="config-outcome">
        <Result outcome={outcome} onJump={(l, c) => editor.current?.jumpTo(l, c)} onForce={() => void send(true, true)} />
      </div>
      {running.data !== undefined ? (
        <CodeEditor
          id="config-text"
          label="Config (YAML)"
          value={value}
          onInput={setText}
          errorLines={errorLines}
          handle={editor}
          describedBy="config-help"
        />
      ) : null}
      {hasStore ? <History onRolledBack={() => running.reload()} /> : null}
    </section>
  );
}

function Result({
  outcome,
  onJump,
  onForce,
}: {
  outcome: Outcome | undefined;
  onJump: (line: number, column?: number) => void;
  onForce: () => void;
}) {
  if (!outcome) return null;
  switch (outcome.kind) {
    case 'conflict':
      return (
        <div class="note note-warn" role="alert">
          <p>
            Nothing was applied: the running config changed after this page loaded it ({outcome.message}). Applying your text replaces that
            change. Copy your edits, use <em>Revert edits</em> to see the running config, or apply anyway.
          </p>
          <button type="button" class="btn" onClick={onForce}>
            Apply anyway
          </button>
        </div>
      );
    case 'applied':
      return (
        <Note kind="ok">{outcome.unchanged ? 'Nothing changed.' : `Applied: the gateway runs config version ${outcome.version}.`}</Note>
      );
    case 'failed':
      return <ErrorNote error={outcome.message} />;
    case 'valid':
      return (
        <>
          <Note kind="ok">Valid. {outcome.diff ? `${outcome.diff.length} change(s) against the running config.` : ''}</Note>
          {outcome.diff ? <DiffView changes={outcome.diff} /> : null}
        </>
      );
    case 'errors':
      return (
        <div class="note note-error" role="alert">
          <strong>
            {outcome.errors.length} error{outcome.errors.length === 1 ? '' : 's'}; nothing was applied.
          </strong>
          <ul class="errors">
            {outcome.errors.map((e, i) => (
              <li key={i} data-testid="config-error">
                {e.line !== undefined ? (
                  <button type="button" class="link" onClick={() => onJump(e.line!, e.column)}>
                    line {e.line}
                    {e.column !== undefined ? `:${e.column}` : ''}
                  </button>
                ) : null}{' '}
                <code>{e.path || '(document)'}</code>: {e.message}
              </li>
            ))}
          </ul>
        </div>
      );
  }
}
