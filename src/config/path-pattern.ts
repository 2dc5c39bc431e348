// Route path patterns: exact "/a/b", params "/a/:id", prefix "/a/*" (matches "/a" and below).
// Parsed once at compile time into segments the router indexes.

export type Segment = { literal: string } | { param: string };

export interface PathPattern {
  source: string;
  /** Segments before any trailing wildcard; "/" is one empty literal segment. */
  segments: Segment[];
  wildcard: boolean;
  params: string[];
  kind: 'exact' | 'param' | 'wildcard';
  /** Characters before the first param or wildcard: longer prefixes win ties. */
  literalPrefixLength: number;
}

export function parsePathPattern(source: string): PathPattern | { error: string } {
  if (!source.startsWith('/')) return { error: 'a path starts with "/"' };
  if (/[?#%\\\s]/.test(source)) return { error: 'a path pattern holds no "?", "#", "%", "\\" or spaces; write it decoded' };
  let body = source;
  let wildcard = false;
  if (body === '/*') {
    body = '';
    wildcard = true;
  } else if (body.endsWith('/*')) {
    body = body.slice(0, -2);
    wildcard = true;
  }
  const parts = body === '' ? (wildcard ? [] : ['']) : body.slice(1).split('/');
  const segments: Segment[] = [];
  const params: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.includes('*')) return { error: '"*" is only allowed as the last segment ("/prefix/*")' };
    if (p === '.' || p === '..') return { error: 'dot segments are not allowed in a path pattern' };
    if (p === '' && i < parts.length - 1) return { error: 'empty segment ("//") in a path pattern' };
    if (p.startsWith(':')) {
      const name = p.slice(1);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { error: `invalid parameter name "${p}"` };
      if (params.includes(name)) return { error: `parameter ":${name}" appears twice` };
      params.push(name);
      segments.push({ param: name });
    } else {
      segments.push({ literal: p });
    }
  }
  const firstDynamic = source.search(/[:*]/);
  return {
    source,
    segments,
    wildcard,
    params,
    kind: wildcard ? 'wildcard' : params.length > 0 ? 'param' : 'exact',
    literalPrefixLength: firstDynamic === -1 ? source.length : firstDynamic,
  };
}
