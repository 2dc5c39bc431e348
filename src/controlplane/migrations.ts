// The config store's tables, as numbered migrations. `gatehouse migrate` applies the pending ones;
// an instance only checks (a data-plane instance never changes the schema): an older or newer
// schema than this code expects stops its start with a clear error.
import type pg from 'pg';
import { ident } from './pg.js';

/** Each entry is applied once, in order, in one transaction; never edit one that has shipped. */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.config_versions (
      version    integer PRIMARY KEY,
      doc        jsonb NOT NULL,
      author     text NOT NULL,
      comment    text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE ${s}.instances (
      id          text PRIMARY KEY,
      address     text NOT NULL,
      version     integer NOT NULL,
      started_at  timestamptz NOT NULL DEFAULT now(),
      last_seen   timestamptz NOT NULL DEFAULT now()
    );`,
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaMismatchError extends Error {
  constructor(
    readonly found: number,
    readonly expected: number,
  ) {
    super(
      found < expected
        ? `the config store's schema is at migration ${found}, this gatehouse needs ${expected}: run \`gatehouse migrate\` first`
        : `the config store's schema is at migration ${found}, newer than this gatehouse knows (${expected}): upgrade gatehouse`,
    );
  }
}

/** The schema's migration level (0: nothing there yet). */
export async function schemaVersion(db: pg.ClientBase, schema: string): Promise<number> {
  const t = await db.query<{ exists: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS exists`, // a missing table is level 0, not an error
    [`${ident(schema)}.schema_migrations`],
  );
  if (!t.rows[0]?.exists) return 0;
  const r = await db.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${ident(schema)}.schema_migrations`);
  return r.rows[0]?.v ?? 0;
}

/** Throws SchemaMismatchError unless the schema is exactly at SCHEMA_VERSION. */
export async function checkSchema(db: pg.ClientBase, schema: string): Promise<void> {
  const found = await schemaVersion(db, schema);
  if (found !== SCHEMA_VERSION) throw new SchemaMismatchError(found, SCHEMA_VERSION);
}

/** Applies the pending migrations; returns the levels before and after. Two migrators wait for each other. */
export async function migrate(db: pg.ClientBase, schema: string): Promise<{ from: number; to: number }> {
  const s = ident(schema);
  await db.query('BEGIN');
  try {
    await db.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`gatehouse-migrate:${schema}`]);
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const from = await schemaVersion(db, schema);
    if (from > SCHEMA_VERSION) throw new SchemaMismatchError(from, SCHEMA_VERSION);
    for (let v = from + 1; v <= SCHEMA_VERSION; v++) {
      await db.query(MIGRATIONS[v - 1]!(s));
      await db.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [v]);
    }
    await db.query('COMMIT');
    return { from, to: SCHEMA_VERSION };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
