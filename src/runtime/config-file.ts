// Reading a config file the way `gatehouse start`, `validate` and a reload do: with its plugins
// loaded relative to the file. (validation/load.ts reads and validates; loading code is done here,
// above it, so config depends on nothing that runs users' modules.)
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { configFromFileText, loadConfigFile, parseConfigText } from '../validation/load.js';
import { interpolate } from '../config/interpolate.js';
import { buildConfigSchema } from '../config/schema.js';
import { configJsonSchemaText } from '../config/json-schema.js';
import type { ConfigIssue } from '../validation/validate.js';
import { policyDefinitions } from '../policies/index.js';
import type { ValidationResult } from '../validation/validate.js';
import { loadPlugins } from '../policies/plugins.js';

/** Reads, loads the plugins of and validates a config file. */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ValidationResult> {
  return loadConfigFile(path, env, loadPlugins);
}

/** A config file's text already read (a reload compares it first). */
export function configFromFile(text: string, path: string, env: NodeJS.ProcessEnv = process.env): Promise<ValidationResult> {
  return configFromFileText(text, path, env, loadPlugins);
}

/**
 * The JSON Schema for a config file's policy types: the built-ins and those of the plugins it
 * lists (the rest of the file need not be valid, so an editor schema can come first).
 */
export async function pluginsSchemaText(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ok: true; text: string } | { ok: false; errors: ConfigIssue[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ path, message: `cannot read config: ${(err as Error).message}` }] };
  }
  const parsed = parseConfigText(text);
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  const doc = interpolate(parsed.doc, env, issues) as { plugins?: unknown } | null;
  const listed = Array.isArray(doc?.plugins) ? (doc.plugins as unknown[]) : [];
  const loaded = await loadPlugins(listed, dirname(path));
  if (loaded.issues.length > 0) return { ok: false, errors: loaded.issues };
  return { ok: true, text: configJsonSchemaText(buildConfigSchema(policyDefinitions(loaded.resolved))) };
}
