// One instance's link to the config store: it boots from the latest version (or, with the
// database down, from its snapshot), learns of new versions by LISTEN/NOTIFY and by a periodic
// check, records its applied version in a heartbeat, and records changes made through it. A lost
// database is logged once; the instance keeps serving, retries with backoff, and catches up.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { ConfigStoreConfig } from '../config/config-store-schema.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Instance } from '../runtime/instance.js';
import type {
  ChangeMeta,
  CheckedConfig,
  ClusterMember,
  CommitOutcome,
  ConfigCommitter,
  ConfigHistory,
  VersionSummary,
} from '../runtime/config-history.js';
import { VersionUnreadableError } from '../runtime/config-history.js';
import type { ValidationResult } from '../validation/validate.js';
import { connect } from './pg.js';
import { SchemaMismatchError } from './migrations.js';
import { ConfigStore, NOTIFY_CHANNEL } from './store.js';
import { bootPart, comparable, diffDocumentsLimited, storedPart, validateStored, withoutBootKeys, type Change } from './document.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';
import { consumerDelta } from './consumer-sync.js';

/** Why an instance could not start from the store (the CLI prints the message and exits 3). */
export class ConfigStoreError extends Error {}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export class ClusterSync implements ConfigCommitter, ConfigHistory {
  readonly id = `${hostname()}-${randomBytes(4).toString('hex')}`;
  readonly store: ConfigStore;
  private instance: Instance | undefined;
  private address = '';
  private listener: pg.Client | undefined;
  private timers: NodeJS.Timeout[] = [];
  private down = false;
  private reconnecting = false;
  private checking: Promise<void> | undefined;
  /** Checks asked for; one asked while another runs makes it run once more (a newer version may have come). */
  private checkRequests = 0;
  private stopped = false;
  private snapshotVersion = 0;

  private constructor(
    readonly options: ConfigStoreConfig,
    /** This instance's boot keys (listen, admin, …): every stored document is read with them. */
    readonly boot: Record<string, unknown>,
    private readonly log: Logger,
  ) {
    this.store = new ConfigStore(options.url, options.schema);
  }

  /**
   * The config to start with: the latest stored version, or with the database unreachable the
   * snapshot; neither is an error. A schema older or newer than this code is always an error.
   */
  static async boot(bootConfig: GatehouseConfig, log: Logger): Promise<{ sync: ClusterSync; config: GatehouseConfig; version: number }> {
    const options = bootConfig.configStore!;
    const sync = new ClusterSync(options, bootPart(bootConfig), log);
    let version: number;
    let doc: Record<string, unknown>;
    try {
      await sync.store.check();
      const latest = await sync.store.latest();
      version = latest?.version ?? 0;
      doc = latest?.doc ?? {};
    } catch (err) {
      if (err instanceof SchemaMismatchError) {
        await sync.store.close();
        throw new ConfigStoreError(err.message);
      }
      const why = (err as Error).message;
      const snap = options.snapshot
        ? await readSnapshot(options.snapshot).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))
        : undefined;
      if (!snap || snap instanceof Error) {
        await sync.store.close();
        throw new ConfigStoreError(
          `the config store cannot be reached (${why}) and there is no snapshot to start from` +
            (snap instanceof Error
              ? ` (${snap.message})`
              : options.snapshot
                ? ` (${options.snapshot} does not exist)`
                : ' (configStore.snapshot is not set)'),
        );
      }
      sync.down = true;
      log.warn(
        { err: why, snapshot: options.snapshot, version: snap.version },
        'config store unreachable: starting from the snapshot; retrying in the background',
      );
      version = snap.version;
      doc = snap.doc;
    }
    const result = validateStored(sync.boot, doc);
    if (!result.ok) {
      await sync.store.close();
      const lines = result.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
      throw new ConfigStoreError(`config version ${version} of the store is not valid with this boot file:\n${lines}`);
    }
    sync.snapshotVersion = sync.down ? version : 0;
    return { sync, config: result.config, version };
  }

  /** Starts following the store for `instance` (`address`: where its data plane answers). */
  attach(instance: Instance, address: string): void {
    this.instance = instance;
    this.address = address;
    instance.committer = this;
    instance.history = this;
    instance.onApplied = (version, config) => void this.snapshot(version, config);
    if (!this.down) void this.snapshot(instance.version, instance.config);
    this.timers.push(setInterval(() => void this.check(), this.options.pollIntervalMs).unref());
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs).unref());
    void this.heartbeat();
    if (this.down) void this.reconnect();
    else void this.listen().catch((err: unknown) => this.lost(err as Error));
  }

  private async listen(): Promise<void> {
    const client = await connect(this.options.url);
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    const drop = (err?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      void client.end().catch(() => {});
      this.lost(err ?? new Error('connection closed'));
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (n) => {
      if (n.channel === NOTIFY_CHANNEL) void this.check();
    });
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    this.listener = client;
    // Whatever was committed while nobody listened.
    await this.check();
  }

  /** The database went away: say so once, keep serving, and reconnect in the background. */
  private lost(err: Error): void {
    if (this.stopped) return;
    if (!this.down) {
      this.down = true;
      this.log.warn(
        { err: err.message, version: this.instance?.version },
        'config store unreachable: serving the last applied version; retrying in the background',
      );
    }
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let wait = BACKOFF_MIN_MS;
    while (!this.stopped && !this.listener) {
      try {
        await this.store.check();
        await this.listen();
      } catch {
        await new Promise((r) => setTimeout(r, wait).unref());
        wait = Math.min(wait * 2, BACKOFF_MAX_MS);
      }
    }
    this.reconnecting = false;
  }

  /** Applies the latest version if this instance does not have it; one check at a time. */
  private async check(): Promise<void> {
    this.checkRequests++;
    if (this.checking) return this.checking;
    this.checking = (async () => {
      let seen;
      do {
        seen = this.checkRequests;
        await this.catchUp();
      } while (seen !== this.checkRequests && !this.stopped);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async catchUp(): Promise<void> {
    const instance = this.instance;
    if (!instance || this.stopped) return;
    try {
      const latest = await this.store.latestVersion();
      if (this.down && this.listener) {
        this.down = false;
        this.log.info({ version: latest }, 'config store reachable again');
      }
      if (latest <= instance.version) return;
      if (await this.sameConsumers(instance, latest)) return;
      if (await this.consumersOnly(instance, latest)) return;
      const stored = await this.store.get(latest);
      if (!stored) return;
      // Not compiled here: applying compiles it, and refuses it as validation would.
      await instance.applyStored(validateStored(this.boot, stored.doc, false), stored.version, 'config-store');
    } catch (err) {
      this.lost(err as Error);
    }
  }

  /**
   * When version `latest` has the consumers of the version served (a route, service or plan edit;
   * PostgreSQL compares their digests), it is read without them and validated with the served,
   * known-valid list: 100,000 consumers are neither read, nor compared, nor checked again. False
   * when that is not so (nothing applied: take the other way).
   */
  private async sameConsumers(instance: Instance, latest: number): Promise<boolean> {
    const served = instance.version;
    if (served === 0) return false;
    const digests = await this.store.consumerDigests([served, latest]);
    if (digests.get(served) === undefined || digests.get(served) !== digests.get(latest)) return false;
    const stored = await this.store.getWithoutConsumers(latest);
    if (!stored) return false;
    const outcome = await instance.applyStoredWith(
      // Only if the instance still serves that version once it is this change's turn.
      (current, version) =>
        version === served ? validateStored(this.boot, { ...stored.doc, consumers: current.consumers }, false) : undefined,
      latest,
      'config-store',
    );
    return outcome !== undefined;
  }

  /**
   * When version `latest` differs from the version served in its consumers only (PostgreSQL
   * compares them, and reads out only the changed ones), it is applied as a consumer change. False
   * when that is not so, or the change is refused (nothing applied: take the whole way, which says why).
   */
  private async consumersOnly(instance: Instance, latest: number): Promise<boolean> {
    const served = instance.version;
    if (served === 0) return false;
    const changes = await this.store.consumerChanges(served, latest);
    const change = changes && consumerDelta(changes);
    if (!change) return false;
    const outcome = await instance.applyStoredConsumers(
      // Only if the instance still serves that version once it is this change's turn.
      (_current, version) => (version === served ? change : undefined),
      latest,
      'config-store',
    );
    return outcome !== undefined;
  }

  private async heartbeat(): Promise<void> {
    if (!this.instance || this.stopped) return;
    try {
      await this.store.heartbeat(this.id, this.address, this.instance.version);
    } catch (err) {
      this.lost(err as Error);
    }
  }

  private async snapshot(version: number, config: GatehouseConfig): Promise<void> {
    const path = this.options.snapshot;
    if (!path || version <= this.snapshotVersion) return;
    this.snapshotVersion = version;
    try {
      await writeSnapshot(path, { version, doc: storedPart(config) });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, path }, 'cannot write the config snapshot');
    }
  }

  // ConfigCommitter

  async commitOn(base: number, build: () => CheckedConfig & { unchanged?: boolean }, meta: ChangeMeta): Promise<CommitOutcome | undefined> {
    let config: GatehouseConfig | undefined;
    let refusedByEdit: { err: unknown } | undefined;
    try {
      const r = await this.store.commit<Extract<CheckedConfig, { ok: false }> | 'stale'>(
        (latest) => {
          if ((latest?.version ?? 0) !== base) return { ok: false, refusal: 'stale' };
          let checked: CheckedConfig & { unchanged?: boolean };
          try {
            checked = build();
          } catch (err) {
            refusedByEdit = { err };
            throw err;
          }
          if (!checked.ok) return { ok: false, refusal: checked };
          config = checked.config;
          // Known unchanged or not: the store need not compare two documents of 100,000 consumers.
          // Not copied (JSON.stringify, which writes it, leaves undefined out as storedPart does).
          return { ok: true, doc: withoutBootKeys(checked.config), unchanged: checked.unchanged === true };
        },
        { author: meta.author ?? 'unknown', comment: meta.comment },
      );
      if (!r.ok) return r.refusal === 'stale' ? undefined : r.refusal;
      return { ok: true, version: r.version, config: config!, unchanged: r.unchanged };
    } catch (err) {
      if (refusedByEdit) throw refusedByEdit.err;
      this.lost(err as Error);
      return { ok: false, code: 'CONFIG_STORE_UNAVAILABLE', errors: [{ path: '(config store)', message: (err as Error).message }] };
    }
  }

  async commit(
    make: (current: GatehouseConfig) => ValidationResult,
    check: (r: ValidationResult) => CheckedConfig,
    meta: ChangeMeta,
  ): Promise<CommitOutcome> {
    let config: GatehouseConfig | undefined;
    // An edit may refuse by throwing (an admin endpoint's 404): that is its answer, not a lost database.
    let refusedByEdit: { err: unknown } | undefined;
    try {
      const r = await this.store.commit<Extract<CheckedConfig, { ok: false }>>(
        async (latest) => {
          // The change is made to the latest stored config, which may be newer than this instance's
          // (when it is the one this instance serves, that is its config: not read nor validated again).
          const served = this.instance!;
          const current = latest && latest.version !== served.version ? validateStored(this.boot, await latest.doc()) : undefined;
          let checked: CheckedConfig;
          try {
            checked = check(make(current?.ok ? current.config : served.config));
          } catch (err) {
            refusedByEdit = { err };
            throw err;
          }
          if (!checked.ok) return { ok: false, refusal: checked };
          config = checked.config;
          return { ok: true, doc: storedPart(checked.config) };
        },
        { author: meta.author ?? 'unknown', comment: meta.comment },
      );
      if (!r.ok) return r.refusal;
      return { ok: true, version: r.version, config: config!, unchanged: r.unchanged };
    } catch (err) {
      if (refusedByEdit) throw refusedByEdit.err;
      this.lost(err as Error);
      return { ok: false, code: 'CONFIG_STORE_UNAVAILABLE', errors: [{ path: '(config store)', message: (err as Error).message }] };
    }
  }

  // ConfigHistory

  versions(limit: number, before?: number): Promise<VersionSummary[]> {
    return this.store.list(limit, before);
  }

  async version(n: number) {
    const v = await this.store.get(n);
    if (!v) return undefined;
    const { doc, ...summary } = v;
    return { ...summary, config: doc };
  }

  async diff(from: number, to: number, limit: number): Promise<{ changes: Change[]; truncated: boolean } | undefined> {
    const [a, b] = await Promise.all([this.store.get(from), this.store.get(to)]);
    if (!a || !b) return undefined;
    try {
      return diffDocumentsLimited(a.doc, b.doc, limit);
    } catch (err) {
      // Nested deeper than the comparison can recurse (another writer's document).
      if (err instanceof RangeError) throw new VersionUnreadableError(comparable(a.doc) ? to : from);
      throw err;
    }
  }

  async restore(n: number): Promise<ValidationResult | undefined> {
    const v = await this.store.get(n);
    return v && validateStored(this.boot, v.doc);
  }

  async cluster(): Promise<{ latestVersion: number; instances: ClusterMember[] }> {
    const [latestVersion, members] = await Promise.all([this.store.latestVersion(), this.store.members()]);
    const staleAfter = (3 * this.options.heartbeatIntervalMs) / 1000;
    return {
      latestVersion,
      instances: members.map((m) => ({
        id: m.id,
        address: m.address,
        appliedVersion: m.version,
        lastHeartbeat: m.lastSeen,
        lagging: m.version < latestVersion,
        stale: m.ageSeconds > staleAfter,
        self: m.id === this.id,
      })),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => {});
    await this.checking;
    // A stopped instance leaves the table rather than turning stale there.
    await this.store.leave(this.id).catch(() => {});
    await this.store.close().catch(() => {});
  }
}
