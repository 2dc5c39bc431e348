// The config as text for the console's editor: GET /config?format=yaml, and where an error of a
// sent config is in the text it came from (line and column of the node its path names), so the
// editor can mark it. The messages are the validator's, the same as `gatehouse validate` prints.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node } from 'yaml';
import type { GatehouseConfig } from '../../config/schema.js';
import { redactSecrets } from '../../config/redact.js';

export interface PlacedIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** The running config redacted as GET /config shows it, without `consumers` when `omitConsumers`. */
export function configView(config: GatehouseConfig, omitConsumers: boolean): Record<string, unknown> {
  const shown = redactSecrets(config) as unknown as Record<string, unknown>;
  if (!omitConsumers) return shown;
  const rest = { ...shown };
  delete rest.consumers;
  return rest;
}

export function configYaml(view: Record<string, unknown>): string {
  // No anchors and aliases: the editor shows every value where it applies.
  return stringify(view, { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** `routes[0].policies[1].limit` → ['routes', 0, 'policies', 1, 'limit']; undefined for "(root)" and other non-paths. */
export function pathSegments(path: string): (string | number)[] | undefined {
  if (path.startsWith('(') || path.startsWith('line ')) return undefined;
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * The issues with the 1-based line and column of what each path names in `text`: the key of a map
 * entry, an item of a list, or — for a key that is missing — the nearest enclosing node that is
 * there. An issue whose path is not in the text (a default, a whole-config problem) has neither.
 */
export function placeIssues(text: string, issues: readonly { path: string; message: string }[]): PlacedIssue[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, keepSourceTokens: false });
  if (doc.errors.length > 0) return issues.map((i) => ({ path: i.path, message: i.message }));
  return issues.map((issue) => {
    const offset = offsetOf(doc.contents, pathSegments(issue.path));
    if (offset === undefined) return { path: issue.path, message: issue.message };
    const pos = counter.linePos(offset);
    return { path: issue.path, message: issue.message, line: pos.line, column: pos.col };
  });
}

function offsetOf(root: unknown, segments: (string | number)[] | undefined): number | undefined {
  if (segments === undefined || segments.length === 0) return undefined;
  let node = root;
  let best: number | undefined;
  for (const seg of segments) {
    let next: unknown;
    let at: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair) {
        next = pair.value;
        at = (pair.key as Node).range?.[0];
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
      at = (next as Node | undefined)?.range?.[0];
    }
    if (at === undefined) return best;
    best = at;
    node = next;
  }
  return best;
}
