// One Gatehouse instance: the current config and its version, the engine that serves it, the
// admin API, and the ways a new config arrives (file watch, SIGHUP, POST /config). A new config
// is validated and compiled before anything changes; an invalid one is refused, logged, and the
// old one keeps serving.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { compilePlan, noConnect, PluginCreateError, type Plan } from '../dataplane/plan.js';
import { configFromFile } from './config-file.js';
import { openRemoteAdmin } from '../config/admin-exposure.js';
import { listenerRestartView } from '../config/tls-schema.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { ConfigIssue, ValidationResult } from '../validation/validate.js';
import type { BoundListener } from '../dataplane/dataplane.js';
import type { Logger } from '../observability/logger.js';
import type { Engine, InspectQuery } from './engine.js';
import { LocalEngine } from './local-engine.js';
import { ClusterEngine, workerCount } from './cluster-engine.js';
import type { ErrorCode } from '../errors.js';
import { InstanceMetrics } from '../observability/instance-metrics.js';
import type { ConsumerDelta } from '../identity/registry.js';
import { ConsumerIndex } from './consumer-edit.js';
import type { ConsumerConfig } from '../config/consumer-schema.js';
import { markValidConsumers } from '../validation/validate.js';
import type { ChangeMeta, CheckedConfig, ConfigCommitter, ConfigHistory } from './config-history.js';

export type ApplyResult =
  | { ok: true; version: number; unchanged?: boolean }
  | {
      ok: false;
      code: Extract<ErrorCode, 'CONFIG_INVALID' | 'CONFIG_RESTART_REQUIRED' | 'CONFIG_STORE_UNAVAILABLE'>;
      errors: ConfigIssue[];
    };

type Refusal = Extract<ApplyResult, { ok: false }>;

/** What the admin API (and tests) may ask of an instance. */
export interface Controller {
  readonly config: GatehouseConfig;
  readonly version: number;
  /** A compiled view of the current config, for describing routes and services. */
  readonly plan: Plan;
  readonly workerCount: number;
  ready(): boolean;
  /** Dry run: would this config be accepted? */
  check(result: ValidationResult): ApplyResult;
  /** With a config store, a change is recorded there as a new version first (`meta`: its author and comment). */
  apply(result: ValidationResult, source: string, meta?: ChangeMeta): Promise<ApplyResult>;
  /** Applies `make(newest config)`, computed in turn with other applies (an edit, not a replacement). */
  applyEdit(make: (current: GatehouseConfig) => ValidationResult, source: string, meta?: ChangeMeta): Promise<ApplyResult>;
  /**
   * Applies a change of some consumers, `make(newest config)`, in turn with other applies: checked
   * against the others without validating the whole config again, and handed to the data planes
   * as the change alone (their routes are not recompiled). Runtime/consumer-edit.ts.
   */
  applyConsumers(make: (current: GatehouseConfig) => ConsumerDelta, source: string, meta?: ChangeMeta): Promise<ApplyResult>;
  /** With a config store (configStore): its versions and the cluster's instances. */
  readonly history?: ConfigHistory;
  /** Runtime state of the data planes (health, breakers). */
  inspect(query: InspectQuery): Promise<unknown[]>;
  /** Instance-level metrics (config reloads, active version), added to the planes' by GET /metrics. */
  readonly metrics: InstanceMetrics;
}

const RESTART_KEYS = ['listen', 'admin', 'workers', 'server'] as const;

export class Instance implements Controller {
  config: GatehouseConfig;
  version = 1;
  plan: Plan;
  listeners: BoundListener[] = [];
  readonly engine: Engine;
  readonly workerCount: number;
  private watcher: FSWatcher | undefined;
  private fileHash: string | undefined;
  private applying: Promise<unknown> = Promise.resolve();
  /** What the consumers hold that must stay unique; built at the first consumer edit after a whole config. */
  private consumerIndex: ConsumerIndex | undefined;
  readonly metrics = new InstanceMetrics(() => this.version);
  /** With a config store: where changes are recorded before they are applied. */
  committer: ConfigCommitter | undefined;
  history: ConfigHistory | undefined;
  /** A stored version this instance failed to apply: not retried by every version check. */
  private failedVersion = 0;
  /** Called after each config this instance applies (the config store writes its snapshot). */
  onApplied: ((version: number, config: GatehouseConfig) => void) | undefined;

  constructor(
    config: GatehouseConfig,
    readonly log: Logger,
    readonly configPath?: string,
    /** The version it starts with (a config store's version number; 1 for a file). */
    version = 1,
  ) {
    this.config = config;
    this.version = version;
    this.plan = compilePlan(config, noConnect, this.version);
    this.workerCount = workerCount(config.workers);
    this.engine = this.workerCount > 1 ? new ClusterEngine(config, log) : new LocalEngine(log);
  }

  async start(): Promise<BoundListener[]> {
    const admin = this.config.admin;
    // Validation lets this through only with allowRemoteWithoutToken; say so at every start.
    if (openRemoteAdmin(admin)) {
      this.log.warn(
        { host: admin.host, port: admin.port },
        'admin API reachable from the network without a token (admin.allowRemoteWithoutToken: true): anyone who reaches it can replace the config',
      );
    }
    this.listeners = await this.engine.start(this.config, this.version);
    if (this.configPath) this.fileHash = hash(await readFile(this.configPath, 'utf8').catch(() => ''));
    return this.listeners;
  }

  inspect(query: InspectQuery): Promise<unknown[]> {
    return this.engine.inspect(query);
  }

  /** SIGUSR1: reopen access-log files (log rotation), in every data plane. */
  reopenLogs(): void {
    this.engine.reopenLogs();
  }

  ready(): boolean {
    return this.engine.ready();
  }

  check(result: ValidationResult): ApplyResult {
    const prepared = this.prepare(result, 0);
    return prepared.ok ? { ok: true, version: this.version } : prepared;
  }

  /**
   * Validates a config the one way: its schema, the keys that need a restart, then one compile.
   * That compiled plan is what the instance describes once the config is applied.
   */
  private prepare(
    result: ValidationResult,
    version: number,
  ): { ok: true; config: GatehouseConfig; plan: Plan } | Extract<CheckedConfig, { ok: false }> {
    if (!result.ok) return { ok: false, code: 'CONFIG_INVALID', errors: result.errors };
    const errors: ConfigIssue[] = [];
    for (const key of RESTART_KEYS) {
      if (restartView(result.config, key) !== restartView(this.config, key)) {
        errors.push({ path: key, message: `"${key}" cannot change while running; restart to apply it` });
      }
    }
    if (errors.length) return { ok: false, code: 'CONFIG_RESTART_REQUIRED', errors };
    try {
      return { ok: true, config: result.config, plan: compilePlan(result.config, noConnect, version) };
    } catch (err) {
      return {
        ok: false,
        code: 'CONFIG_INVALID',
        errors: [{ path: err instanceof PluginCreateError ? err.path : '(config)', message: (err as Error).message }],
      };
    }
  }

  /** Applies a validated config everywhere; serialised so reloads never interleave. */
  apply(result: ValidationResult, source: string, meta?: ChangeMeta): Promise<ApplyResult> {
    return this.applyEdit(() => result, source, meta);
  }

  applyEdit(make: (current: GatehouseConfig) => ValidationResult, source: string, meta?: ChangeMeta): Promise<ApplyResult> {
    const run = this.applying.then(() =>
      this.committer ? this.commitNow(this.committer, make, source, meta) : this.applyNow(make(this.config), source),
    );
    this.applying = run.catch(() => {});
    return run;
  }

  /** A version read from the config store; one this instance already has is not applied again. */
  applyStored(result: ValidationResult, version: number, source: string): Promise<ApplyResult> {
    return this.applyStoredWith(() => result, version, source) as Promise<ApplyResult>;
  }

  /**
   * A version read from the config store, made in turn with other applies from the config served
   * and its version (`make` may answer undefined: not this way, and nothing is applied).
   */
  applyStoredWith(
    make: (current: GatehouseConfig, currentVersion: number) => ValidationResult | undefined,
    version: number,
    source: string,
  ): Promise<ApplyResult | undefined> {
    const run = this.applying.then(async (): Promise<ApplyResult | undefined> => {
      if (version <= this.version || version === this.failedVersion) return { ok: true, version: this.version, unchanged: true };
      const result = make(this.config, this.version);
      if (result === undefined) return undefined;
      const outcome = await this.applyNow(result, source, version);
      if (!outcome.ok) this.failedVersion = version;
      return outcome;
    });
    this.applying = run.catch(() => {});
    return run;
  }

  applyConsumers(make: (current: GatehouseConfig) => ConsumerDelta, source: string, meta?: ChangeMeta): Promise<ApplyResult> {
    const committer = this.committer;
    const run = this.applying.then(async () => {
      if (committer === undefined) return this.applyConsumersNow(make(this.config), source);
      // With a config store a consumer change is a stored version like any other, recorded under
      // the store's lock. When this instance serves the newest version, the change is checked and
      // applied as a consumer change (nothing recompiled); else it is made on the newest stored
      // config, validated whole, and applied as a whole config.
      const fast = await this.commitConsumersNow(committer, make, source, meta);
      return fast ?? this.commitNow(committer, (current) => withConsumerDelta(current, make(current)), source, meta);
    });
    this.applying = run.catch(() => {});
    return run;
  }

  /**
   * A stored version that may change consumers only (`change` says, given the served config):
   * applied as a consumer change, as a consumer edit is; undefined when it is not one (the caller
   * applies it whole).
   */
  applyStoredConsumers(
    change: (
      current: GatehouseConfig,
      currentVersion: number,
    ) => { delta: ConsumerDelta; sameOrder(ids: readonly string[]): boolean } | undefined,
    version: number,
    source: string,
  ): Promise<ApplyResult | undefined> {
    const run = this.applying.then(async (): Promise<ApplyResult | undefined> => {
      if (version <= this.version || version === this.failedVersion) return { ok: true, version: this.version, unchanged: true };
      const c = change(this.config, this.version);
      if (c === undefined) return undefined;
      const { consumers, issues } = this.index().prepare(this.config, c.delta);
      // Refused, or in another order than the stored list: the whole way says why, or gets the order right.
      if (issues.length > 0 || !c.sameOrder(consumers.map((x) => x.id))) return undefined;
      return this.consumersChanged(c.delta, consumers, version, source);
    });
    this.applying = run.catch(() => {});
    return run;
  }

  /** The consumer index of the served consumers (built once after a whole config). */
  private index(): ConsumerIndex {
    if (this.consumerIndex?.source !== this.config.consumers) this.consumerIndex = new ConsumerIndex(this.config.consumers);
    return this.consumerIndex;
  }

  private async applyConsumersNow(delta: ConsumerDelta, source: string): Promise<ApplyResult> {
    const { consumers, issues } = this.index().prepare(this.config, delta);
    if (issues.length > 0) return this.refused(source, { ok: false, code: 'CONFIG_INVALID', errors: issues });
    return this.consumersChanged(delta, consumers, this.version + 1, source);
  }

  /** Serves `consumers` (the list `delta` makes, checked): every data plane changes its consumers, none recompiles. */
  private async consumersChanged(delta: ConsumerDelta, consumers: ConsumerConfig[], version: number, source: string): Promise<ApplyResult> {
    // Checked as a whole validation would check it (consumers-delta-parity.test.ts): a later route
    // edit need not validate these consumers again.
    markValidConsumers(consumers);
    const config: GatehouseConfig = { ...this.config, consumers };
    await this.engine.applyConsumers(delta, config, version);
    this.index().commit(delta, consumers);
    this.plan.consumers.applyDelta(delta);
    this.plan = { ...this.plan, config, version };
    this.config = config;
    this.version = version;
    this.metrics.reloaded(true);
    this.log.info({ source, version, upserted: delta.upsert.length, removed: delta.remove.length }, 'consumers changed');
    this.onApplied?.(version, config);
    return { ok: true, version };
  }

  /**
   * With a config store, a consumer change made on the config this instance serves: checked against
   * the consumer index, recorded, applied as a consumer change. Undefined when the store has a
   * version this instance does not serve yet (the caller takes the whole way).
   */
  private async commitConsumersNow(
    committer: ConfigCommitter,
    make: (current: GatehouseConfig) => ConsumerDelta,
    source: string,
    meta: ChangeMeta | undefined,
  ): Promise<ApplyResult | undefined> {
    let prepared: { delta: ConsumerDelta; consumers: ConsumerConfig[] } | undefined;
    const outcome = await committer.commitOn(
      this.version,
      (): CheckedConfig & { unchanged?: boolean } => {
        const delta = make(this.config);
        const index = this.index();
        const { consumers, issues } = index.prepare(this.config, delta);
        if (issues.length > 0) return { ok: false, code: 'CONFIG_INVALID', errors: issues };
        prepared = { delta, consumers };
        return { ok: true, config: { ...this.config, consumers }, unchanged: index.changesNothing(this.config.consumers, delta) };
      },
      { author: meta?.author ?? source, comment: meta?.comment },
    );
    if (outcome === undefined) return undefined;
    if (!outcome.ok) return this.refused(source, outcome);
    if (outcome.unchanged || outcome.version <= this.version) return { ok: true, version: outcome.version, unchanged: true };
    return this.consumersChanged(prepared!.delta, prepared!.consumers, outcome.version, source);
  }

  /** With a config store: record the change (validated as here, under the store's lock), then apply it. */
  private async commitNow(
    committer: ConfigCommitter,
    make: (current: GatehouseConfig) => ValidationResult,
    source: string,
    meta: ChangeMeta | undefined,
  ): Promise<ApplyResult> {
    let checked: { config: GatehouseConfig; plan: Plan } | undefined;
    const check = (r: ValidationResult): CheckedConfig => {
      const prepared = this.prepare(r, 0);
      if (prepared.ok) checked = prepared;
      return prepared.ok ? { ok: true, config: prepared.config } : prepared;
    };
    const outcome = await committer.commit(make, check, { author: meta?.author ?? source, comment: meta?.comment });
    if (!outcome.ok) return this.refused(source, outcome);
    if (outcome.version <= this.version) return { ok: true, version: outcome.version, unchanged: true };
    // The check compiled it already (with 100,000 consumers a compile is most of a second).
    const plan = checked?.config === outcome.config ? checked.plan : undefined;
    return this.applyNow({ ok: true, config: outcome.config }, source, outcome.version, plan);
  }

  /** `compiled`: the plan `prepare` made of this very config, in this apply turn (not compiled again). */
  private async applyNow(result: ValidationResult, source: string, version = this.version + 1, compiled?: Plan): Promise<ApplyResult> {
    const prepared =
      compiled && result.ok ? { ok: true as const, config: result.config, plan: { ...compiled, version } } : this.prepare(result, version);
    if (!prepared.ok) return this.refused(source, prepared);
    try {
      // Each data plane compiles its own plan (its pools and policy state live in its process),
      // all or nothing: one that fails keeps serving the current config.
      await this.engine.apply(prepared.config, version);
    } catch (err) {
      return this.refused(source, {
        ok: false,
        code: 'CONFIG_INVALID',
        errors: [{ path: err instanceof PluginCreateError ? err.path : '(config)', message: (err as Error).message }],
      });
    }
    this.config = prepared.config;
    this.plan = prepared.plan;
    this.version = version;
    this.metrics.reloaded(true);
    this.log.info({ source, version }, 'config applied');
    this.onApplied?.(version, prepared.config);
    return { ok: true, version };
  }

  private refused(source: string, refusal: Refusal): Refusal {
    this.metrics.reloaded(false);
    this.log.error({ source, errors: refusal.errors }, 'config refused; the current config keeps serving');
    return refusal;
  }

  /** Re-reads the config file (SIGHUP, file change). Unchanged content is not re-applied. */
  async reloadFromFile(source: string, force = false): Promise<ApplyResult | undefined> {
    if (!this.configPath) return undefined;
    let text: string;
    try {
      text = await readFile(this.configPath, 'utf8');
    } catch (err) {
      this.log.error({ source, err: (err as Error).message }, 'config file unreadable; the current config keeps serving');
      return undefined;
    }
    const h = hash(text);
    if (!force && h === this.fileHash) return undefined;
    this.fileHash = h;
    return this.apply(await configFromFile(text, this.configPath), source);
  }

  /** Watches the config file's directory (editors replace files rather than write them). */
  watchFile(): void {
    if (!this.configPath || this.watcher) return;
    const file = resolve(this.configPath);
    let timer: NodeJS.Timeout | undefined;
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name !== null && name !== basename(file)) return;
        clearTimeout(timer);
        timer = setTimeout(() => void this.reloadFromFile('file-watch'), 100);
      });
      this.watcher.on('error', (err) => this.log.warn({ err: err.message }, 'config file watch stopped'));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot watch the config file; use SIGHUP or POST /config');
    }
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    await this.engine.stop();
  }
}

/** What of `key` needs a restart to change: a TLS listener's certificates and TLS settings do not. */
function restartView(config: GatehouseConfig, key: (typeof RESTART_KEYS)[number]): string {
  if (key === 'listen') return JSON.stringify(config.listen.map(listenerRestartView));
  // The admin token may be rotated by a reload: the admin server reads it per request (and ends
  // the console's sessions when it changes). The listener itself needs a restart.
  if (key === 'admin') return JSON.stringify({ ...config.admin, token: undefined });
  return JSON.stringify(config[key]);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A consumer change as a whole config (the config store's path): the delta checked as a direct edit checks it. */
function withConsumerDelta(current: GatehouseConfig, delta: ConsumerDelta): ValidationResult {
  const { consumers, issues } = new ConsumerIndex(current.consumers).prepare(current, delta);
  if (issues.length > 0) return { ok: false, errors: issues };
  return { ok: true, config: { ...current, consumers } };
}
