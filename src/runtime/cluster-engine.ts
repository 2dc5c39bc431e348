// `workers: N|auto`: N cluster workers share the listeners (SO_REUSEPORT where the runtime has it,
// else the cluster's round-robin hand-off). The primary keeps the config, the admin API and the
// signals; a worker that dies is replaced; reloads and shutdown reach every worker.
import { pluginDigests } from '../policies/plugins.js';
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { GatehouseConfig } from '../config/schema.js';
import type { BoundListener } from '../dataplane/dataplane.js';
import type { Logger } from '../observability/logger.js';
import type { Engine, InspectQuery } from './engine.js';
import type { ToPrimary, ToWorker } from './messages.js';
import type { ConsumerDelta } from '../identity/registry.js';
import { ProbeSupervisor } from './probe-supervisor.js';
import { PrimaryDecisions } from '../store/ipc.js';
import { RetiredMetrics } from '../observability/retired-metrics.js';

interface Slot {
  worker: Worker;
  version: number;
  configured: boolean;
  listening: boolean;
}

export function workerCount(setting: GatehouseConfig['workers']): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

export class ClusterEngine implements Engine {
  readonly workerCount: number;
  private readonly slots = new Map<number, Slot>();
  private config!: GatehouseConfig;
  private version = 0;
  private stopping = false;
  private listeners: BoundListener[] = [];
  private recentDeaths: number[] = [];
  private readonly pending = new Map<number, (data: unknown) => void>();
  private nextInspect = 1;
  /** Active health checks run here, once for the whole instance. */
  private readonly probes: ProbeSupervisor;
  /** The one memory rate-limit store of this instance, shared by its workers. */
  private readonly decisions = new PrimaryDecisions();
  /** Counters of dead workers, so the instance's totals never go down. */
  private readonly retired = new RetiredMetrics();

  constructor(
    config: GatehouseConfig,
    private readonly log: Logger,
  ) {
    this.probes = new ProbeSupervisor(log, (m) => {
      for (const s of this.slots.values()) if (s.listening) this.send(s.worker, m);
    });
    this.workerCount = workerCount(config.workers);
    cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)) });
  }

  async start(config: GatehouseConfig, version: number): Promise<BoundListener[]> {
    this.config = config;
    this.version = version;
    this.probes.apply(config);
    const started = Array.from({ length: this.workerCount }, () => this.spawn());
    await Promise.all(started);
    return this.listeners;
  }

  private spawn(): Promise<void> {
    const worker = cluster.fork({ GATEHOUSE_WORKER: '1' });
    const slot: Slot = { worker, version: 0, configured: false, listening: false };
    this.slots.set(worker.id, slot);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: ToPrimary) => {
        if (m.t === 'rl') {
          this.decisions.answer(worker, m);
        } else if (m.t === 'up') {
          slot.configured = true;
          this.send(worker, { t: 'config', config: this.config, version: this.version, pluginDigests: pluginDigests(this.config.plugins) });
        } else if (m.t === 'listening') {
          slot.listening = true;
          slot.version = m.version;
          for (const v of this.probes.all()) this.send(worker, v);
          this.listeners = m.listeners;
          resolve();
        } else if (m.t === 'applied') {
          slot.version = m.version;
          for (const v of this.probes.all()) this.send(worker, v);
          worker.emit('gatehouse:applied', m.version);
        } else if (m.t === 'inspected') {
          this.pending.get(m.id)?.(m.data);
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a plugin in the worker may process.send() anything: what is not ours is ignored
        } else if (m.t === 'failed') {
          this.log.error({ worker: worker.id, message: m.message }, 'worker failed');
          reject(new Error(m.message));
        }
      });
      // A message sent as a worker dies fails with EPIPE, emitted here; unhandled, it would take the
      // primary down. The worker's 'exit' does the rest.
      worker.on('error', (err) => this.log.warn({ worker: worker.id, err: err.message }, 'worker channel error'));
      worker.on('exit', (code, signal) => {
        this.slots.delete(worker.id);
        this.retired.died(worker.id);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- code is null when a signal ended the worker (node's documentation; its types say number)
        if (!slot.listening) reject(new Error(`worker exited during start-up (code ${code ?? signal})`));
        if (this.stopping) return;
        this.log.error({ worker: worker.id, code, signal }, 'worker died; starting a replacement');
        this.respawnLater();
      });
    });
  }

  private respawnLater(): void {
    const now = Date.now();
    this.recentDeaths = this.recentDeaths.filter((t) => now - t < 10_000);
    this.recentDeaths.push(now);
    // Crash loops back off instead of spinning the CPU.
    const delay = this.recentDeaths.length > 3 ? Math.min(5_000, 250 * 2 ** (this.recentDeaths.length - 3)) : 0;
    setTimeout(() => {
      if (!this.stopping) this.spawn().catch((err: unknown) => this.log.error({ err }, 'replacement worker failed'));
    }, delay).unref();
  }

  private send(worker: Worker, m: ToWorker): void {
    if (worker.isConnected()) worker.send(m);
  }

  async apply(config: GatehouseConfig, version: number): Promise<void> {
    this.config = config;
    this.version = version;
    this.probes.apply(config);
    await this.broadcast({ t: 'config', config, version, pluginDigests: pluginDigests(config.plugins) }, version);
  }

  /** Only the change travels to the workers; a worker started later is sent the whole newest config. */
  async applyConsumers(delta: ConsumerDelta, config: GatehouseConfig, version: number): Promise<void> {
    this.config = config;
    this.version = version;
    await this.broadcast({ t: 'consumers', delta, version }, version);
  }

  /** Sends `m` to every configured worker; resolves when each has applied `version` (or died). */
  private async broadcast(m: ToWorker, version: number): Promise<void> {
    const acks = [...this.slots.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          // A worker not yet up is sent the newest config when it is. One that is up but still
          // starting applies this one at once, before or after it listens: wait for it too.
          if (!s.configured) return resolve();
          // Both listeners go once either fires: a long-lived worker must not collect one per reload.
          const done = () => {
            s.worker.off('gatehouse:applied', onApplied);
            s.worker.off('exit', done);
            resolve();
          };
          const onApplied = (v: number) => {
            if (v >= version) done();
          };
          s.worker.on('gatehouse:applied', onApplied);
          s.worker.once('exit', done);
          this.send(s.worker, m);
        }),
    );
    await Promise.all(acks);
  }

  /** Asks every listening worker; one that does not answer within 2 s is left out. */
  async inspect(query: InspectQuery): Promise<unknown[]> {
    const metrics = query.what === 'metrics';
    const asks = [...this.slots.values()]
      .filter((s) => s.listening)
      .map((s) =>
        new Promise<{ worker: number; data: unknown }>((resolve) => {
          const id = this.nextInspect++;
          const timer = setTimeout(() => {
            this.pending.delete(id);
            resolve({ worker: s.worker.id, data: undefined });
          }, 2000);
          this.pending.set(id, (data) => {
            clearTimeout(timer);
            this.pending.delete(id);
            resolve({ worker: s.worker.id, data });
          });
          this.send(s.worker, { t: 'inspect', id, query });
        }).then((answer) => {
          if (metrics && this.slots.has(answer.worker)) this.retired.seen(answer.worker, answer.data);
          return answer;
        }),
      );
    const answers = await Promise.all(asks);
    if (!metrics) return answers.map((a) => a.data).filter((d) => d !== undefined);
    // Dead workers' counters are read after every answer is in. A worker that died meanwhile is
    // counted there only (with its last report, which may be the answer it just gave), never twice
    // and never not at all: its live answer is dropped.
    const retired = await this.retired.snapshot();
    const live = answers.filter((a) => a.data !== undefined && this.slots.has(a.worker)).map((a) => a.data);
    if (retired) live.push(retired);
    return live;
  }

  /** Each worker reopens its own access-log file descriptor (O_APPEND, same path). */
  reopenLogs(): void {
    for (const s of this.slots.values()) if (s.listening) this.send(s.worker, { t: 'reopenLogs' });
  }

  ready(): boolean {
    if (this.stopping || this.slots.size < this.workerCount) return false;
    for (const s of this.slots.values()) if (!s.listening) return false;
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.probes.close();
    const exits = [...this.slots.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.worker.isDead()) return resolve();
          s.worker.once('exit', () => resolve());
          this.send(s.worker, { t: 'shutdown' });
        }),
    );
    await Promise.all(exits);
  }
}
