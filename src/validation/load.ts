// Reading a config: text (YAML or JSON) → document → env interpolation → validation.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isScalar, parseDocument, visit, type Document } from 'yaml';
import { interpolate } from '../config/interpolate.js';
import { validateConfig, type ConfigIssue, type ValidationResult } from './validate.js';

/** Parses YAML or JSON text (JSON is YAML) into a plain document. */
export function parseConfigText(text: string): { ok: true; doc: unknown } | { ok: false; errors: ConfigIssue[] } {
  const tooDeep = flowNestingProblem(text);
  if (tooDeep) return { ok: false, errors: [tooDeep] };
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(document)',
        message:
          e.code === 'DUPLICATE_KEY'
            ? duplicateKeyMessage(doc, e.pos[0])
            : e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
      })),
    };
  }
  return { ok: true, doc: doc.toJS({ maxAliasCount: 100 }) };
}

/** Deeper than any config needs, far below what overflows yaml's (recursive) composer. */
const MAX_FLOW_DEPTH = 100;

/**
 * `[` and `{` (JSON, YAML flow collections) nested past MAX_FLOW_DEPTH, outside double-quoted
 * strings. yaml recurses once per level: a few thousand overflow the stack, and in V8 a second
 * such overflow while parsing can abort the whole process (the admin API's bodies reach this).
 */
function flowNestingProblem(text: string): ConfigIssue | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    } else if (c === 0x22) {
      // A double-quoted string: skip to its closing quote (a backslash escapes the next character).
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_FLOW_DEPTH)
        return { path: `line ${line}, column ${i - lineStart + 1}`, message: `nested more than ${MAX_FLOW_DEPTH} levels deep` };
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return undefined;
}

/** yaml's message ("Map keys must be unique") does not say which key; the key starting at `offset` does. */
function duplicateKeyMessage(doc: Document, offset: number): string {
  let key: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        key = pair.key.toString();
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return key === undefined ? 'duplicate key' : `duplicate key ${JSON.stringify(key)}`;
}

/** Interpolates `${VAR}` references and validates. */
export function configFromDocument(doc: unknown, env: NodeJS.ProcessEnv = process.env): ValidationResult {
  const issues: ConfigIssue[] = [];
  const interpolated = interpolate(doc, env, issues);
  if (issues.length > 0) return { ok: false, errors: issues };
  return validateConfig(interpolated);
}

/**
 * Imports the modules a config's `plugins` names (relative to `baseDir`); gives their resolved
 * URLs, or why one failed. Config does not load code itself: the caller passes the loader
 * (runtime/config-file.ts), and a caller that passes none (the admin API) loads nothing.
 */
export type PluginLoader = (specs: readonly unknown[], baseDir: string) => Promise<{ resolved: string[]; issues: ConfigIssue[] }>;

/** A config file's text: its plugins are loaded (relative to the file) before it is validated. */
export async function configFromFileText(
  text: string,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  plugins?: PluginLoader,
): Promise<ValidationResult> {
  const parsed = parseConfigText(text);
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  const doc = interpolate(parsed.doc, env, issues);
  if (issues.length > 0) return { ok: false, errors: issues };
  const listed = typeof doc === 'object' && doc !== null ? (doc as { plugins?: unknown }).plugins : undefined;
  if (plugins === undefined || !Array.isArray(listed) || listed.length === 0) return validateConfig(doc);
  const loaded = await plugins(listed, dirname(path));
  // The resolved URLs replace the specifiers: workers and reloads import exactly these files.
  const result = validateConfig({ ...(doc as object), plugins: loaded.resolved });
  if (loaded.issues.length === 0) return result;
  return { ok: false, errors: [...loaded.issues, ...(result.ok ? [] : result.errors)] };
}

export function configFromText(text: string, env: NodeJS.ProcessEnv = process.env): ValidationResult {
  const parsed = parseConfigText(text);
  if (!parsed.ok) return parsed;
  return configFromDocument(parsed.doc, env);
}

export async function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  plugins?: PluginLoader,
): Promise<ValidationResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    return { ok: false, errors: [{ path, message: `cannot read config: ${why}` }] };
  }
  return configFromFileText(text, path, env, plugins);
}
