// Users' policies, loaded in process from the config's top-level `plugins` (module specifiers,
// paths relative to the config file). A plugin module's default export is a policy definition
// made with `definePolicy` (or an array of them); its types then work in any `policies` list,
// validated, documented and compiled exactly like the built-ins.
//
// Loading runs code, so only a config read from a file (at start or on reload) loads a module:
// the admin API may use plugins already loaded but never names a new one (Kong's `plugins =`
// in kong.conf plays the same part). A module is imported once per process, as node caches it:
// a plugin's code changes on restart, not on reload.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PHASES, type PolicyDefinition } from './types.js';
import { BUILTIN_POLICIES } from './builtins.js';
import { buildConfigSchema } from '../config/schema.js';

export interface PluginIssue {
  path: string;
  message: string;
}

const TYPE = /^[a-z][a-z0-9-]{0,63}$/;
const builtinTypes = new Set(BUILTIN_POLICIES.map((d) => d.type));
/** Loaded plugin modules by resolved URL, and which module each plugin type came from. */
const modules = new Map<string, readonly PolicyDefinition[]>();
const typeSource = new Map<string, string>();

/**
 * Resolves and imports `specs` (as written in a config file in `baseDir`). Returns the resolved
 * URLs, which replace the specifiers in the config (workers and reloads import the same files),
 * or the issues found, one per failing entry, at `plugins[i]`.
 */
export async function loadPlugins(specs: readonly unknown[], baseDir: string): Promise<{ resolved: string[]; issues: PluginIssue[] }> {
  const resolved: string[] = [];
  const issues: PluginIssue[] = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const at = `plugins[${i}]`;
    if (typeof spec !== 'string' || spec === '') {
      issues.push({ path: at, message: 'a plugin is a module specifier: a path such as "./plugins/tenant.js" or a package name' });
      continue;
    }
    let url: string;
    try {
      url = resolveSpecifier(spec, baseDir);
    } catch (err) {
      issues.push({ path: at, message: `cannot find plugin ${JSON.stringify(spec)}: ${(err as Error).message}` });
      continue;
    }
    const problem = await importPlugin(url);
    if (problem !== undefined) issues.push({ path: at, message: `plugin ${JSON.stringify(spec)}: ${problem}` });
    else resolved.push(url);
  }
  return { resolved, issues };
}

/** Imports already resolved plugin URLs (a cluster worker, from the config its primary sends). */
export async function loadResolvedPlugins(urls: readonly string[], digests: Readonly<Record<string, string>> = {}): Promise<void> {
  for (const url of urls) {
    // A worker started later (a replacement for one that died) reads the file as it is now: it
    // must run the code the rest of the gateway runs, or none (node cannot import the old text).
    const expected = digests[url];
    if (expected !== undefined && !modules.has(url) && fileDigest(url) !== expected) {
      throw new Error(`plugin ${url} changed on disk since the gateway loaded it: restart the gateway to run the new code`);
    }
    const problem = await importPlugin(url);
    if (problem !== undefined) throw new Error(`plugin ${url}: ${problem}`);
  }
}

/** The sha-256 of each loaded plugin's entry file as it was imported, for the workers to compare. */
export function pluginDigests(urls: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const url of urls) {
    const d = digests.get(url);
    if (d !== undefined) out[url] = d;
  }
  return out;
}

const digests = new Map<string, string>();

function fileDigest(url: string): string | undefined {
  try {
    return createHash('sha256')
      .update(readFileSync(fileURLToPath(url)))
      .digest('hex');
  } catch {
    return undefined;
  }
}

/** The definitions a loaded plugin URL exported; undefined when it was never loaded in this process. */
export function loadedPlugin(url: string): readonly PolicyDefinition[] | undefined {
  return modules.get(url);
}

/** A loaded plugin's definition of `type`. */
export function pluginDefinition(type: string): PolicyDefinition | undefined {
  const url = typeSource.get(type);
  return url === undefined ? undefined : modules.get(url)?.find((d) => d.type === type);
}

async function importPlugin(url: string): Promise<string | undefined> {
  if (modules.has(url)) return undefined;
  // Its entry file as it is imported (only that file: what it imports in turn is not covered).
  const digest = fileDigest(url);
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    // The module's own failure, without its stack: the message says which file and why.
    return `failed to load: ${(err as Error).message}`;
  }
  // Nothing a module exports may throw out of here (a getter, a Proxy, a schema that is not zod's):
  // a start would stop with an internal error and a reload would escape as an unhandled rejection.
  try {
    const problem = register(url, mod.default);
    if (problem === undefined && digest !== undefined) digests.set(url, digest);
    return problem;
  } catch (err) {
    return `its definition cannot be used: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function register(url: string, exported: unknown): string | undefined {
  const defs: unknown[] = Array.isArray(exported) ? [...(exported as unknown[])] : [exported];
  if (exported === undefined || defs.length === 0)
    return 'its default export must be a policy definition made with definePolicy (or an array of them)';
  const own = new Set<string>();
  for (const def of defs) {
    const problem = definitionProblem(def);
    if (problem !== undefined) return problem;
    const d = def as PolicyDefinition;
    if (builtinTypes.has(d.type)) return `type "${d.type}" is a built-in policy type; a plugin needs a type of its own`;
    const from = typeSource.get(d.type);
    if (from !== undefined && from !== url) return `type "${d.type}" is already defined by plugin ${from}`;
    if (own.has(d.type)) return `type "${d.type}" is defined twice in this module`;
    own.add(d.type);
    const example = (
      d.schema as { safeParse: (v: unknown) => { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }
    ).safeParse({ ...d.example, type: d.type });
    if (!example.success) {
      const first = example.error?.issues[0];
      return `type "${d.type}": its example does not pass its schema${first ? ` (${first.path.join('.') || '(root)'}: ${first.message})` : ''}`;
    }
    for (const key of Object.keys(d.sections ?? {})) {
      const owner = sectionOwner(key);
      if (owner !== undefined && owner !== d.type)
        return `type "${d.type}" contributes top-level "${key}", which ${owner === '' ? 'is a key of the config itself' : `policy type "${owner}" owns`}`;
    }
  }
  // The config schema must build with them before they are registered: a registered type that
  // breaks the schema would break every later validation in this process.
  buildConfigSchema([...BUILTIN_POLICIES, ...(defs as PolicyDefinition[])]);
  for (const d of defs as PolicyDefinition[]) typeSource.set(d.type, url);
  modules.set(url, defs as PolicyDefinition[]);
  return undefined;
}

let coreKeys: ReadonlySet<string> | undefined;
/** Who owns a top-level key: '' for the config itself and the built-ins' sections, else a loaded plugin's type. */
function sectionOwner(key: string): string | undefined {
  coreKeys ??= new Set(Object.keys(buildConfigSchema(BUILTIN_POLICIES).shape));
  if (coreKeys.has(key)) return '';
  for (const defs of modules.values()) for (const d of defs) if (d.sections && Object.hasOwn(d.sections, key)) return d.type;
  return undefined;
}

/** What makes an exported value unusable as a definition (checked before anything uses it). */
function definitionProblem(def: unknown): string | undefined {
  if (typeof def !== 'object' || def === null)
    return 'its default export must be a policy definition made with definePolicy (or an array of them)';
  const d = def as Partial<PolicyDefinition>;
  if (typeof d.type !== 'string' || !TYPE.test(d.type))
    return 'a definition needs a `type`: lower-case letters, digits and "-", starting with a letter';
  if (typeof d.description !== 'string' || d.description === '')
    return `type "${d.type}": a definition needs a description (it documents the type in \`gatehouse schema\`)`;
  if (typeof d.create !== 'function') return `type "${d.type}": a definition needs a create(config, env) function`;
  if (typeof (d.schema as { safeParse?: unknown } | undefined)?.safeParse !== 'function')
    return `type "${d.type}": its schema must be a zod object whose \`type\` is z.literal(${JSON.stringify(d.type)})`;
  if (!Array.isArray(d.phases) || d.phases.length === 0 || !d.phases.every((p) => (PHASES as readonly unknown[]).includes(p))) {
    return `type "${d.type}": phases must list some of ${PHASES.join(', ')}`;
  }
  const schema = d.schema as { shape?: { type?: { value?: unknown } } } | undefined;
  if (schema?.shape?.type?.value !== d.type) {
    return `type "${d.type}": its schema must be a zod object whose \`type\` is z.literal(${JSON.stringify(d.type)})`;
  }
  // A JavaScript plugin is not held to the types: its example and sections may be anything, null included.
  const example: unknown = d.example;
  const sections: unknown = d.sections;
  if (typeof example !== 'object' || example === null) return `type "${d.type}": a definition needs an example config (without \`type\`)`;
  if (
    sections !== undefined &&
    (typeof sections !== 'object' ||
      sections === null ||
      !Object.values(sections).every((s) => typeof (s as { safeParse?: unknown } | null)?.safeParse === 'function'))
  ) {
    return `type "${d.type}": sections maps top-level keys to zod schemas`;
  }
  if (d.timeout !== undefined && !(Number.isInteger(d.timeout) && d.timeout > 0))
    return `type "${d.type}": timeout is a whole number of milliseconds above 0`;
  return undefined;
}

/** A path (relative to the config file's directory, or absolute), a file: URL, or a package name. */
function resolveSpecifier(spec: string, baseDir: string): string {
  if (spec.startsWith('file:')) {
    if (!existsSync(fileURLToPath(spec))) throw new Error('no such file');
    return spec;
  }
  if (spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec)) {
    const file = resolve(baseDir, spec);
    if (!existsSync(file)) throw new Error(`no such file: ${file}`);
    return pathToFileURL(file).href;
  }
  return pathToFileURL(resolvePackage(spec, baseDir)).href;
}

/**
 * A package name as an ES module import from the config's directory would find it. node's
 * require.resolve does that for most packages; an ESM-only package that exports just an "import"
 * condition is found by reading its package.json (exports "." → import/default, else main).
 */
function resolvePackage(spec: string, baseDir: string): string {
  // createRequire needs an absolute path: a config given as `--config gatehouse.yaml` has baseDir ".".
  const require = createRequire(join(resolve(baseDir), 'gatehouse-config.cjs'));
  try {
    return require.resolve(spec);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && code !== 'MODULE_NOT_FOUND') throw err;
  }
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  if (name !== spec) throw new Error('not found (a plugin package is named by its root, e.g. "@acme/gatehouse-geo")');
  for (let dir = resolve(baseDir); ; dir = dirname(dir)) {
    const pkgFile = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(pkgFile)) {
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: unknown; main?: string };
      const entry = exportEntry(pkg.exports) ?? pkg.main ?? 'index.js';
      return join(dirname(pkgFile), entry);
    }
    if (dirname(dir) === dir) throw new Error('not found in any node_modules above the config file');
  }
}

function exportEntry(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const root = '.' in exports ? (exports as Record<string, unknown>)['.'] : exports;
  if (typeof root === 'string') return root;
  if (typeof root !== 'object' || root === null) return undefined;
  const conditions = root as Record<string, unknown>;
  for (const c of ['node', 'import', 'default']) {
    const v = conditions[c];
    if (typeof v === 'string') return v;
    const nested = exportEntry(v);
    if (nested !== undefined) return nested;
  }
  return undefined;
}
