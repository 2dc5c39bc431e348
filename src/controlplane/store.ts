// The config store: one JSONB row per config version, with who made it, when and why, and the
// table of instances (heartbeats). A change is one transaction: lock, read the latest, build and
// validate the new document from it, insert version n+1, notify. Two writers at once get n+1 and
// n+2, never two n+1.
import pg from 'pg';
import { ident } from './pg.js';
import { checkSchema } from './migrations.js';
import type { StoredDocument } from './document.js';

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

/** What consumerChanges answers. */
export interface ConsumerChanges {
  /** The consumers of the later version that the earlier has not exactly (new or changed), in order. */
  changed: unknown[];
  /** Ids of the earlier version's consumers that the later one has not. */
  removed: string[];
  /** md5 (hex) of the later version's consumer ids, in order, joined by newlines. */
  orderDigest: string;
}

/** The latest version as a change's builder sees it: its number, and its document when asked for. */
export interface LatestVersion {
  version: number;
  doc(): Promise<StoredDocument>;
}

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

  /**
   * A digest of each version's consumers, as PostgreSQL writes them out (jsonb's text is one
   * canonical form: key order does not matter): equal digests, the same consumers. By version.
   */
  async consumerDigests(versions: number[]): Promise<Map<number, string>> {
    const r = await this.pool.query<{ version: number; digest: string }>(
      `SELECT version, md5(coalesce(doc->'consumers', 'null'::jsonb)::text) AS digest
       FROM ${this.s}.config_versions WHERE version = ANY($1::int[]) AND jsonb_typeof(doc) = 'object'`,
      [versions],
    );
    return new Map(r.rows.map((row) => [row.version, row.digest]));
  }

  /**
   * How the consumers of version `to` differ from those of version `from`, computed by PostgreSQL
   * (jsonb equality, key order aside) so that 100,000 unchanged consumers are not read: undefined
   * unless everything else of the two documents is equal and `to`'s consumers each have an id of
   * their own (else read the document whole).
   */
  async consumerChanges(from: number, to: number): Promise<ConsumerChanges | undefined> {
    const head = await this.pool.query<{ rest_same: boolean; arrays: boolean }>(
      `SELECT (a.doc - 'consumers') = (b.doc - 'consumers') AS rest_same,
              jsonb_typeof(a.doc->'consumers') = 'array' AND jsonb_typeof(b.doc->'consumers') = 'array' AS arrays
       FROM ${this.s}.config_versions a, ${this.s}.config_versions b
       WHERE a.version = $1 AND b.version = $2 AND jsonb_typeof(a.doc) = 'object' AND jsonb_typeof(b.doc) = 'object'`,
      [from, to],
    );
    const h = head.rows[0];
    if (!h?.rest_same || !h.arrays) return undefined;
    const list = (v: string) =>
      `SELECT t.e, t.e->>'id' AS id, t.ord FROM ${this.s}.config_versions v, jsonb_array_elements(v.doc->'consumers') WITH ORDINALITY AS t(e, ord) WHERE v.version = ${v}`;
    // One pass over both lists: `to`'s consumers that `from` has not exactly (changed, new), and
    // `from`'s ids that `to` has not (removed); and whether `to`'s ids are strings, each once.
    const r = await this.pool.query<{ e: unknown; removed: string | null; n: string; ids: string; bad: string; order_digest: string }>(
      `WITH a AS (${list('$1')}), b AS (${list('$2')}),
         stats AS (SELECT count(*) AS n, count(DISTINCT id) AS ids,
                          count(*) FILTER (WHERE jsonb_typeof(e->'id') IS DISTINCT FROM 'string') AS bad,
                          md5(coalesce(string_agg(id, E'\n' ORDER BY ord), '')) AS order_digest FROM b),
         diff AS (SELECT b.e, CASE WHEN b.e IS NULL THEN a.id END AS removed, coalesce(b.ord, 0) AS bo, coalesce(a.ord, 0) AS ao
                  FROM a FULL JOIN b ON a.id = b.id WHERE a.e IS DISTINCT FROM b.e)
       SELECT diff.e, diff.removed, stats.* FROM stats LEFT JOIN diff ON true ORDER BY diff.bo, diff.ao`,
      [from, to],
    );
    const st = r.rows[0]!;
    if (st.n !== st.ids || st.bad !== '0') return undefined;
    const rows = r.rows.filter((x) => x.e !== null || x.removed !== null);
    return {
      changed: rows.filter((x) => x.e !== null).map((x) => x.e),
      removed: rows.filter((x) => x.removed !== null).map((x) => x.removed!),
      orderDigest: st.order_digest,
    };
  }

  /** A version without its consumers (read when they are known to be the same as another's). */
  async getWithoutConsumers(version: number): Promise<StoredVersion | undefined> {
    const r = await this.pool.query<Row>(
      `SELECT version, doc - 'consumers' AS doc, author, comment, created_at FROM ${this.s}.config_versions
       WHERE version = $1 AND jsonb_typeof(doc) = 'object'`,
      [version],
    );
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
   * One change, in one transaction: `build` gets the latest version (under the lock; its document
   * read only if asked for: with 100,000 consumers it is megabytes) and answers the new document or
   * a refusal. A document equal to the latest (PostgreSQL compares them) makes no version.
   */
  async commit<R>(build: (latest: LatestVersion | undefined) => Built<R> | Promise<Built<R>>, meta: ChangeMeta): Promise<CommitResult<R>> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // Transaction-scoped: released by COMMIT or ROLLBACK, whatever happens to this process.
      await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`gatehouse-config:${this.schema}`]);
      const head = await c.query<{ version: number }>(`SELECT version FROM ${this.s}.config_versions ORDER BY version DESC LIMIT 1`);
      const top = head.rows[0]?.version;
      let doc: Promise<StoredDocument> | undefined;
      const latest =
        top === undefined
          ? undefined
          : {
              version: top,
              doc: () =>
                (doc ??= c.query<Row>(`SELECT doc FROM ${this.s}.config_versions WHERE version = $1`, [top]).then((r) => r.rows[0]!.doc)),
            };
      const built = await build(latest);
      if (!built.ok || (top !== undefined && built.unchanged === true)) {
        await c.query('ROLLBACK');
        return built.ok ? { ok: true, version: top!, doc: built.doc, unchanged: true } : built;
      }
      const version = (top ?? 0) + 1;
      // Inserted unless equal to the latest (jsonb equality: key order does not matter), which the
      // builder may already know it is not.
      const inserted = await c.query(
        `INSERT INTO ${this.s}.config_versions (version, doc, author, comment)
         SELECT $1, $2::jsonb, $3, $4
         WHERE $5::boolean OR NOT EXISTS (SELECT 1 FROM ${this.s}.config_versions WHERE version = $6 AND doc = $2::jsonb)`,
        [version, JSON.stringify(built.doc), meta.author, meta.comment ?? '', built.unchanged === false, top ?? null],
      );
      if (inserted.rowCount === 0) {
        await c.query('ROLLBACK');
        return { ok: true, version: top!, doc: built.doc, unchanged: true };
      }
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

function info(r: Row): VersionInfo {
  return { version: r.version, author: r.author, comment: r.comment, createdAt: r.created_at.toISOString() };
}

function full(r: Row): StoredVersion {
  return { ...info(r), doc: r.doc };
}
