// How an instance runs its data plane: in this process (`workers: 1`) or in cluster workers.
// Both look the same to the instance and to the admin API.
import type { GatehouseConfig } from '../config/schema.js';
import type { BoundListener } from '../dataplane/dataplane.js';
import type { InspectQuery } from '../dataplane/inspect-query.js';
import type { ConsumerDelta } from '../identity/registry.js';

export interface Engine {
  /** Starts serving `config`; resolves with the bound listener addresses. */
  start(config: GatehouseConfig, version: number): Promise<BoundListener[]>;
  /** Swaps every data plane to `config`; resolves once all of them serve it. */
  apply(config: GatehouseConfig, version: number): Promise<void>;
  /** Changes some consumers in every data plane (`config`: the whole config after it, for planes started later). */
  applyConsumers(delta: ConsumerDelta, config: GatehouseConfig, version: number): Promise<void>;
  ready(): boolean;
  /** Graceful stop: drain in-flight requests, then release everything. */
  stop(): Promise<void>;
  readonly workerCount: number;
  /** Runtime state from every data plane (one entry each): e.g. `health` of a service. */
  inspect(query: InspectQuery): Promise<unknown[]>;
  /** SIGUSR1: every data plane reopens its access-log file. */
  reopenLogs(): void;
}

export type { InspectQuery } from '../dataplane/inspect-query.js';
