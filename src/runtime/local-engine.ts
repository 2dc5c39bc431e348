// `workers: 1`: the data plane runs in this process, beside the admin API.
import { DataPlane, type BoundListener } from '../dataplane/dataplane.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Engine, InspectQuery } from './engine.js';
import type { ConsumerDelta } from '../identity/registry.js';

export class LocalEngine implements Engine {
  readonly workerCount = 1;
  private dp: DataPlane | undefined;
  private listening = false;

  constructor(private readonly log: Logger) {}

  async start(config: GatehouseConfig): Promise<BoundListener[]> {
    this.dp = new DataPlane(config, this.log);
    let bound: BoundListener[];
    try {
      bound = await this.dp.listen(config.listen);
    } catch (err) {
      // Not started (a port is taken): release what the plane opened (pools, stores, log files).
      await this.dp.destroy().catch(() => undefined);
      this.dp = undefined;
      throw err;
    }
    this.listening = true;
    return bound;
  }

  apply(config: GatehouseConfig): Promise<void> {
    this.dp!.apply(config);
    return Promise.resolve();
  }

  applyConsumers(delta: ConsumerDelta): Promise<void> {
    this.dp!.applyConsumers(delta);
    return Promise.resolve();
  }

  async inspect(query: InspectQuery): Promise<unknown[]> {
    return this.dp ? [await this.dp.inspect(query)] : [];
  }

  reopenLogs(): void {
    this.dp?.reopenLogs();
  }

  ready(): boolean {
    return this.listening && this.dp !== undefined && !this.dp.draining;
  }

  async stop(): Promise<void> {
    if (!this.dp) return;
    this.listening = false;
    await this.dp.drain();
  }
}
