// Google API path templates (google/api/http.proto):
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// `{id}` means `{id=*}`. `*` matches one non-empty segment, `**` zero or more segments and must be
// the last segment. A template is parsed once into a flat list of segments; matching walks the
// request's canonical path (already percent-decoded once by the gateway, an encoded "/" refused),
// so a variable's value is the decoded text, its segments joined with "/" (an encoded ";", which
// the canonical path keeps as "%3B", decoded too).

export type Segment = { kind: 'literal'; text: string } | { kind: 'any' } | { kind: 'rest' };

export interface TemplateVariable {
  /** The field path, e.g. ["book", "name"]. */
  field: string[];
  /** Index of its first segment in `segments`. */
  start: number;
  /** Index after its last segment. */
  end: number;
}

export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly Segment[];
  readonly variables: readonly TemplateVariable[];
  readonly verb: string | undefined;
  /** The paths it matches, variable names left out: two templates with one shape conflict. */
  readonly shape: string;
  /** Literal segments (the verb counts as one), for precedence. */
  readonly literals: number;
  /** `*` segments and variables' segments, `**` counting as many. */
  readonly wildcards: number;
  readonly hasRest: boolean;
}

export type ParseResult = { ok: true; template: PathTemplate } | { ok: false; message: string };

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Path segment characters (RFC 3986 pchar) minus ":", which only introduces the verb.
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()+,;=@]|%[0-9A-Fa-f]{2})+$/;

export function parseTemplate(source: string): ParseResult {
  const fail = (why: string): ParseResult => ({ ok: false, message: `path template ${JSON.stringify(source)}: ${why}` });
  if (!source.startsWith('/')) return fail('must start with "/"');
  const segments: Segment[] = [];
  const variables: TemplateVariable[] = [];
  let verb: string | undefined;
  let i = 1;
  for (;;) {
    // One segment (or variable) starting at i.
    if (source[i] === '{') {
      const close = source.indexOf('}', i);
      if (close < 0) return fail('unclosed "{"');
      const inner = source.slice(i + 1, close);
      if (inner.includes('{')) return fail('variables cannot nest');
      const eq = inner.indexOf('=');
      const fieldPath = eq < 0 ? inner : inner.slice(0, eq);
      const field = fieldPath.split('.');
      if (!field.every((p) => IDENT.test(p))) return fail(`bad field path ${JSON.stringify(fieldPath)}`);
      if (variables.some((v) => v.field.join('.') === fieldPath)) return fail(`field ${fieldPath} bound twice`);
      const sub = eq < 0 ? ['*'] : inner.slice(eq + 1).split('/');
      const start = segments.length;
      for (const s of sub) {
        const seg = segment(s);
        if (typeof seg === 'string') return fail(seg);
        segments.push(seg);
      }
      variables.push({ field, start, end: segments.length });
      i = close + 1;
    } else {
      let j = i;
      while (j < source.length && source[j] !== '/' && source[j] !== ':' && source[j] !== '{') j++;
      const seg = segment(source.slice(i, j));
      if (typeof seg === 'string') return fail(seg);
      segments.push(seg);
      i = j;
    }
    if (i === source.length) break;
    if (source[i] === ':') {
      verb = source.slice(i + 1);
      if (!LITERAL.test(verb)) return fail(`bad verb ${JSON.stringify(verb)}`);
      break;
    }
    if (source[i] !== '/') return fail(`unexpected ${JSON.stringify(source[i])} at ${i}`);
    i++;
  }
  const restAt = segments.findIndex((s) => s.kind === 'rest');
  if (restAt >= 0 && restAt !== segments.length - 1) return fail('"**" must be the last segment');
  let literals = verb === undefined ? 0 : 1;
  let wildcards = 0;
  for (const s of segments) {
    if (s.kind === 'literal') literals++;
    else wildcards++;
  }
  const shape =
    '/' +
    segments.map((s) => (s.kind === 'literal' ? s.text : s.kind === 'any' ? '*' : '**')).join('/') +
    (verb === undefined ? '' : ':' + verb);
  return { ok: true, template: { source, segments, variables, verb, shape, literals, wildcards, hasRest: restAt >= 0 } };
}

function segment(s: string): Segment | string {
  if (s === '*') return { kind: 'any' };
  if (s === '**') return { kind: 'rest' };
  if (s === '') return 'empty segment';
  if (!LITERAL.test(s)) return `bad segment ${JSON.stringify(s)}`;
  // A literal is compared with the decoded request path, so decode its escapes once here.
  try {
    return { kind: 'literal', text: decodeURIComponent(s) };
  } catch {
    return `bad escape in ${JSON.stringify(s)}`;
  }
}

/** Variable bindings: field path ("book.name") → value. */
export type Vars = Map<string, string>;

/** Matches a canonical path; undefined when it does not match. */
export function matchTemplate(t: PathTemplate, path: string): Vars | undefined {
  if (!path.startsWith('/')) return undefined;
  let rest = path;
  if (t.verb !== undefined) {
    const suffix = ':' + t.verb;
    if (!rest.endsWith(suffix)) return undefined;
    rest = rest.slice(0, -suffix.length);
    if (rest.endsWith('/')) return undefined; // "/v1/x/:cancel": the verb needs a segment
  }
  const parts = rest.slice(1).split('/');
  const segs = t.segments;
  // `**` may match nothing: "/v1/files" matches "/v1/files/**" with an empty rest.
  if (t.hasRest) {
    if (parts.length < segs.length - 1) return undefined;
    if (parts.length === segs.length - 1 && parts[parts.length - 1] === '') return undefined;
  } else if (parts.length !== segs.length) return undefined;
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k]!;
    if (s.kind === 'rest') break;
    const p = parts[k]!;
    if (s.kind === 'literal' ? p !== s.text : p === '') return undefined;
  }
  const vars: Vars = new Map();
  for (const v of t.variables) {
    const last = segs[v.end - 1]!;
    const upto = last.kind === 'rest' ? parts.length : v.end;
    // "%3B" in a canonical path is always an encoded ";" (server.allowSemicolonInPath keeps it
    // encoded for routing and forwarding; a literal "%3B" would be double-encoded, which is refused).
    vars.set(v.field.join('.'), parts.slice(v.start, upto).join('/').replaceAll('%3B', ';'));
  }
  return vars;
}

/**
 * Orders candidate templates: more literal segments first (a verb counts as one), then templates
 * without `**`, then fewer wildcard segments; ties keep declaration order (the sort is stable).
 */
export function comparePrecedence(a: PathTemplate, b: PathTemplate): number {
  return b.literals - a.literals || Number(a.hasRest) - Number(b.hasRest) || a.wildcards - b.wildcards;
}
