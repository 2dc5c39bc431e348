// `${VAR}` and `${VAR:-default}` in config text. Interpolation runs on the parsed document's
// string values, not on the raw text, so a value can never inject YAML structure.

export interface InterpolationIssue {
  path: string;
  message: string;
}

const WHOLE_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;
const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$\{/g;

export function interpolateString(s: string, env: NodeJS.ProcessEnv, path: string, issues: InterpolationIssue[]): string {
  if (!s.includes('${')) return s;
  return s.replace(REF, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$${') return '${'; // "$${" escapes a literal "${"
    const v = env[name!];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    if (v === '') return '';
    issues.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} for a default)` });
    return '';
  });
}

/** Returns a copy of `doc` with every string value interpolated. */
export function interpolate(doc: unknown, env: NodeJS.ProcessEnv, issues: InterpolationIssue[], path = ''): unknown {
  if (typeof doc === 'string') {
    const out = interpolateString(doc, env, path || '(root)', issues);
    // `port: ${PORT}` should give a number: a value that is one whole reference takes the type
    // its text spells (number or boolean), as if it had been written there literally.
    if (out !== doc && WHOLE_REF.test(doc)) {
      if (/^-?\d+(\.\d+)?$/.test(out)) return Number(out);
      if (out === 'true' || out === 'false') return out === 'true';
    }
    return out;
  }
  if (Array.isArray(doc)) return doc.map((v, i) => interpolate(v, env, issues, `${path}[${i}]`));
  if (doc !== null && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) out[k] = interpolate(v, env, issues, path ? `${path}.${k}` : k);
    return out;
  }
  return doc;
}
