// Path rewriting, compiled once per route: `stripPrefix: /api/v1` or `rewrite: /users/:id`
// (":name" takes the matched param, a trailing "*" takes what the route's "/*" matched).

export type PathRewriter = (path: string, params: Readonly<Record<string, string>>, rest: string) => string;

export function compileStripPrefix(prefix: string): PathRewriter {
  const p = prefix.replace(/\/+$/, '');
  if (p === '') return (path) => path;
  return (path) => {
    if (!path.startsWith(p)) return path;
    if (path.length === p.length) return '/';
    if (path.charCodeAt(p.length) !== 47) return path; // "/api/v10" is not under "/api/v1"
    return path.slice(p.length);
  };
}

export function compileRewrite(template: string): PathRewriter {
  let body = template;
  let wildcard = false;
  if (body.endsWith('/*')) {
    body = body.slice(0, -2);
    wildcard = true;
  }
  const parts: (string | { param: string })[] = [];
  for (const piece of body.split(/(:[A-Za-z_][A-Za-z0-9_]*)/)) {
    if (piece.startsWith(':')) parts.push({ param: piece.slice(1) });
    else if (piece) parts.push(piece);
  }
  return (_path, params, rest) => {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : (params[part.param] ?? '');
    if (wildcard && rest) out += '/' + rest;
    return out || '/';
  };
}
