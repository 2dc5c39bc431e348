// The config store: one JSONB row per config version, with who made it, when and why, and the
// table of instances (heartbeats). A change is one transaction: lock, read the latest, build and
// validate the new document from it, insert version n+1, notify. Two writers at once get n+1 and
// n+2, never two n+1.
import pg from 'pg';
import { ident } from './pg.js';
import { checkSchema } from './migrations.js';
import { sameDocument, type StoredDocument } from './document.js';

export const NOTIFY_CHANNEL = 'gatehouse_config';

export interface VersionInfo {
  version: number;
  author: string;
  comment: string;
  createdAt: string;
}

export interface StoredVersion extends VersionInfo {
  doc: StoredDocument;
}

export interface Member {
  id: string;
  address: string;
  version: number;
  startedAt: string;
  lastSeen: string;
  /** Seconds since last_seen, by the database's clock (instances' clocks may differ). */
  ageSeconds: number;
}

/** What a change's builder answers: the new document, or why there is none (passed back as is). */
export type Built<R> =
  /** `unchanged`: whether `doc` is the latest one, when the builder knows (else the two are compared). */
  { ok: true; doc: StoredDocument; unchanged?: boolean } | { ok: false; refusal: R };

export type CommitResult<R> = { ok: true; version: number; doc: StoredDocument; unchanged: boolean } | { ok: false; refusal: R };

export interface ChangeMeta {
  author: string;
  comment?: string;
}

type Row = { version: number; doc: StoredDocument; author: string; comment: string; created_at: Date };

export class ConfigStore {
  private readonly pool: pg.Pool;
  private readonly s: string;

  constructor(
    url: string,
    readonly schema: string,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 3000, idleTimeoutMillis: 10_000 });
    // An idle connection the server dropped reports here; the next query reconnects.
    this.pool.on('error', () => {});
    // A checked-out connection the server drops fails its query and also emits 'error' on the
    // client, which the pool does not listen to then: unheard, it would be an uncaught exception.
    this.pool.on('connect', (client) => client.on('error', () => {}));
    this.s = ident(schema);
  }

  /** Throws when the database is unreachable or its schema is not the one this code expects. */
  async check(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await checkSchema(c, this.schema);
    } finally {
      c.release();
    }
  }

  async latest(): Promise<StoredVersion | undefined> {
    const r = await this.pool.query<Row>(`SELECT * FROM ${this.s}.config_versions ORDER BY version DESC LIMIT 1`);
    return r.rows[0] && full(r.rows[0]);
  }

  async latestVersion(): Promise<number> {
    const r = await this.pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${this.s}.config_versions`);
    return r.rows[0]?.v ?? 0;
  }

  async get(version: number): Promise<StoredVersion | undefined> {
    const r = await this.pool.query<Row>(`SELECT * FROM ${this.s}.config_versions WHERE version = $1`, [version]);
    return r.rows[0] && full(r.rows[0]);
  }

  /** The newest versions first, `limit` of them, older than `before` when given. */
  async list(limit = 50, before?: number): Promise<VersionInfo[]> {
    const r = await this.pool.query<Row>(
      `SELECT version, author, comment, created_at FROM ${this.s}.config_versions
       WHERE ($1::int IS NULL OR version < $1) ORDER BY version DESC LIMIT $2`,
      [before ?? null, limit],
    );
    return r.rows.map(info);
  }

  /**
   * One change, in one transaction: `build` gets the latest version (under the lock) and answers
   * the new document or a refusal. A document equal to the latest makes no version.
   */
  async commit<R>(build: (latest: StoredVersion | undefined) => Built<R> | Promise<Built<R>>, meta: ChangeMeta): Promise<CommitResult<R>> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // Transaction-scoped: released by COMMIT or ROLLBACK, whatever happens to this process.
      await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`gatehouse-config:${this.schema}`]);
      const r = await c.query<Row>(`SELECT * FROM ${this.s}.config_versions ORDER BY version DESC LIMIT 1`);
      const latest = r.rows[0] && full(r.rows[0]);
      const built = await build(latest);
      if (!built.ok) {
        await c.query('ROLLBACK');
        return built;
      }
      if (latest && (built.unchanged ?? same(latest.doc, built.doc))) {
        await c.query('ROLLBACK');
        return { ok: true, version: latest.version, doc: latest.doc, unchanged: true };
      }
      const version = (latest?.version ?? 0) + 1;
      await c.query(`INSERT INTO ${this.s}.config_versions (version, doc, author, comment) VALUES ($1, $2, $3, $4)`, [
        version,
        JSON.stringify(built.doc),
        meta.author,
        meta.comment ?? '',
      ]);
      // Delivered on COMMIT, to every listening instance (and never if the insert rolls back).
      await c.query(`SELECT pg_notify($1, $2)`, [NOTIFY_CHANNEL, String(version)]);
      await c.query('COMMIT');
      return { ok: true, version, doc: built.doc, unchanged: false };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  async heartbeat(id: string, address: string, version: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.instances (id, address, version) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET address = $2, version = $3, last_seen = now()`,
      [id, address, version],
    );
  }

  async leave(id: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.s}.instances WHERE id = $1`, [id]);
  }

  async members(): Promise<Member[]> {
    const r = await this.pool.query<{ id: string; address: string; version: number; started_at: Date; last_seen: Date; age: number }>(
      `SELECT *, extract(epoch FROM now() - last_seen)::float8 AS age FROM ${this.s}.instances ORDER BY id`,
    );
    return r.rows.map((m) => ({
      id: m.id,
      address: m.address,
      version: m.version,
      startedAt: m.started_at.toISOString(),
      lastSeen: m.last_seen.toISOString(),
      ageSeconds: m.age,
    }));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** sameDocument, where a latest version nested too deep to compare (another writer's) is not the same. */
function same(a: StoredDocument, b: StoredDocument): boolean {
  try {
    return sameDocument(a, b);
  } catch {
    return false; // a RangeError here would refuse every change until someone edits the table by hand
  }
}

function info(r: Row): VersionInfo {
  return { version: r.version, author: r.author, comment: r.comment, createdAt: r.created_at.toISOString() };
}

function full(r: Row): StoredVersion {
  return { ...info(r), doc: r.doc };
}
