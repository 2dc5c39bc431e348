// The config store's commands: `migrate` (the schema), `export` (the latest version as YAML) and
// `apply -f` (a file as a new version, or with --dry-run the diff only). Each reads the boot
// file's configStore to find the database.
import { readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { stringify } from 'yaml';
import { readConfigFile } from '../runtime/config-file.js';
import { parseConfigText } from '../validation/load.js';
import { interpolate } from '../config/interpolate.js';
import type { ConfigIssue } from '../validation/validate.js';
import type { GatehouseConfig } from '../config/schema.js';
import { connect } from '../controlplane/pg.js';
import { migrate } from '../controlplane/migrations.js';
import { ConfigStore } from '../controlplane/store.js';
import { bootPart, diffDocuments, formatDiff, storedPart, validateStored } from '../controlplane/document.js';
import { BOOT_KEYS } from '../config/config-store-schema.js';
import { redactChanges } from '../config/redact.js';

/** Exit codes shared with main.ts. */
const OK = 0;
const INVALID = 1;
const FAILED = 3;

type Boot =
  { ok: true; config: GatehouseConfig & { configStore: NonNullable<GatehouseConfig['configStore']> } } | { ok: false; code: number };

async function bootFile(path: string): Promise<Boot> {
  const r = await readConfigFile(path);
  if (!r.ok) {
    printIssues(r.errors, path);
    return { ok: false, code: INVALID };
  }
  if (!r.config.configStore) {
    process.stderr.write(`gatehouse: ${path} has no configStore: this command works on a config store\n`);
    return { ok: false, code: INVALID };
  }
  return { ok: true, config: r.config as Extract<Boot, { ok: true }>['config'] };
}

function printIssues(errors: ConfigIssue[], path: string): void {
  for (const e of errors) process.stderr.write(`${e.path}: ${e.message}\n`);
  process.stderr.write(`${path}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
}

function unreachable(err: unknown): number {
  process.stderr.write(`gatehouse: config store: ${(err as Error).message}\n`);
  return FAILED;
}

export async function migrateCmd(path: string): Promise<number> {
  const boot = await bootFile(path);
  if (!boot.ok) return boot.code;
  const { url, schema } = boot.config.configStore;
  let db;
  try {
    db = await connect(url);
    const { from, to } = await migrate(db, schema);
    process.stdout.write(
      from === to ? `schema "${schema}" is up to date (migration ${to})\n` : `schema "${schema}" migrated from ${from} to ${to}\n`,
    );
    return OK;
  } catch (err) {
    return unreachable(err);
  } finally {
    await db?.end().catch(() => {});
  }
}

/** The latest stored version as YAML, to stdout or `out`. */
export async function exportCmd(path: string, out: string | undefined): Promise<number> {
  const boot = await bootFile(path);
  if (!boot.ok) return boot.code;
  const store = new ConfigStore(boot.config.configStore.url, boot.config.configStore.schema);
  try {
    await store.check();
    const latest = await store.latest();
    const text = `# gatehouse config version ${latest?.version ?? 0}\n${stringify(latest?.doc ?? {})}`;
    // The document holds every secret of the config (consumer keys): owner-only, as the snapshot.
    if (out) await writeFile(out, text, { mode: 0o600 });
    else process.stdout.write(text);
    return OK;
  } catch (err) {
    return unreachable(err);
  } finally {
    await store.close().catch(() => {});
  }
}

export interface ApplyOptions {
  dryRun: boolean;
  author: string | undefined;
  comment: string | undefined;
}

/** A config file (no boot keys; `${VAR}` expanded as in any config file) as the next version. */
export async function applyCmd(path: string, file: string, opts: ApplyOptions): Promise<number> {
  const boot = await bootFile(path);
  if (!boot.ok) return boot.code;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    process.stderr.write(`gatehouse: cannot read ${file}: ${(err as Error).message}\n`);
    return INVALID;
  }
  const parsed = parseConfigText(text);
  if (!parsed.ok) {
    printIssues(parsed.errors, file);
    return INVALID;
  }
  const issues: ConfigIssue[] = [];
  const doc = interpolate(parsed.doc ?? {}, process.env, issues);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) issues.push({ path: '(document)', message: 'a config is an object' });
  else
    for (const k of Object.keys(doc))
      if ((BOOT_KEYS as readonly string[]).includes(k))
        issues.push({ path: k, message: 'a boot key: it belongs in each instance’s boot file, not in the config store' });
  if (issues.length) {
    printIssues(issues, file);
    return INVALID;
  }
  // Validated as POST /config validates, with this boot file's keys; what is stored is the result.
  const result = validateStored(bootPart(boot.config), doc);
  if (!result.ok) {
    printIssues(result.errors, file);
    return INVALID;
  }
  const next = storedPart(result.config);
  const store = new ConfigStore(boot.config.configStore.url, boot.config.configStore.schema);
  try {
    await store.check();
    if (opts.dryRun) {
      const latest = await store.latest();
      // Redacted: a dry run's output is read by reviewers and kept in CI logs.
      const changes = redactChanges(diffDocuments(latest?.doc ?? {}, next));
      process.stdout.write(
        changes.length
          ? `${formatDiff(changes)}\n${changes.length} change${changes.length === 1 ? '' : 's'} (dry run: nothing written)\n`
          : 'no changes\n',
      );
      return OK;
    }
    const author = opts.author ?? `${userInfo().username}@${hostname()}`;
    const r = await store.commit(() => ({ ok: true, doc: next }), { author, comment: opts.comment ?? `gatehouse apply -f ${file}` });
    if (!r.ok) return INVALID;
    process.stdout.write(r.unchanged ? `no changes: version ${r.version} is the same\n` : `version ${r.version} written\n`);
    return OK;
  } catch (err) {
    return unreachable(err);
  } finally {
    await store.close().catch(() => {});
  }
}
