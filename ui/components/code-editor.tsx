// A plain textarea with a line-number gutter: the browser's own editing, undo, search and
// accessibility, no editor library (a CodeMirror or Monaco would be 5–50× the whole console).
// Lines with an error are marked in the gutter; jumpTo moves the caret to a line and scrolls there.
import { useEffect, useMemo, useRef } from 'preact/hooks';

export interface EditorHandle {
  /** Moves the caret (and the focus) to a line. */
  jumpTo: (line: number, column?: number) => void;
  /** Scrolls a line into view, leaving the focus where it is. */
  reveal: (line: number) => void;
}

export function CodeEditor({
  id,
  label,
  value,
  onInput,
  errorLines,
  handle,
  describedBy,
}: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  errorLines: ReadonlySet<number>;
  handle?: { current: EditorHandle | null };
  describedBy?: string;
}) {
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const lineCount = useMemo(() => {
    let n = 1;
    for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) n++;
    return n;
  }, [value]);
  // One text run per stretch of good lines, a block element per error line: a 10,000-line config
  // is a handful of nodes, not 10,000.
  const gutterParts = useMemo(() => {
    const parts = [];
    let from = 1;
    const marked = [...errorLines].filter((l) => l >= 1 && l <= lineCount).sort((a, b) => a - b);
    for (const l of marked) {
      if (l > from) parts.push(range(from, l - 1));
      parts.push(
        <span key={l} class="gutter-error" title="error on this line">
          {String(l)}
        </span>,
      );
      from = l + 1;
    }
    if (from <= lineCount) parts.push(range(from, lineCount));
    return parts;
  }, [lineCount, errorLines]);
  const sync = () => {
    if (gutter.current && area.current) gutter.current.scrollTop = area.current.scrollTop;
  };
  useEffect(sync, [value]);
  if (handle)
    handle.current = {
      jumpTo(line, column = 1) {
        const el = area.current;
        if (!el) return;
        let at = 0;
        for (let l = 1; l < line; l++) {
          const nl = el.value.indexOf('\n', at);
          if (nl === -1) break;
          at = nl + 1;
        }
        const start = at + Math.max(0, column - 1);
        el.focus();
        el.setSelectionRange(start, start);
        this.reveal(line);
      },
      reveal(line) {
        const el = area.current;
        if (!el) return;
        const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || 18;
        el.scrollTop = Math.max(0, (line - 5) * lineHeight);
        sync();
      },
    };
  return (
    <div class="editor">
      <label for={id} class="sr-only">
        {label}
      </label>
      <div ref={gutter} class="gutter" aria-hidden="true">
        {gutterParts}
      </div>
      <textarea
        ref={area}
        id={id}
        class="code"
        value={value}
        wrap="off"
        spellcheck={false}
        autoComplete="off"
        autoCapitalize="off"
        aria-describedby={describedBy}
        onInput={(e) => onInput(e.currentTarget.value)}
        onScroll={sync}
        onKeyDown={(e) => {
          // Tab indents (YAML wants spaces); Escape then Tab leaves the editor, so the keyboard is never trapped.
          if (e.key === 'Tab' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !escaped.has(id)) {
            e.preventDefault();
            const el = e.currentTarget;
            el.setRangeText('  ', el.selectionStart, el.selectionEnd, 'end');
            onInput(el.value);
          }
          if (e.key === 'Escape') escaped.add(id);
          else if (e.key !== 'Tab') escaped.delete(id);
        }}
        onBlur={() => escaped.delete(id)}
      />
    </div>
  );
}

const escaped = new Set<string>();

function range(from: number, to: number): string {
  let s = '';
  for (let i = from; i <= to; i++) s += `${i}\n`;
  return s;
}
