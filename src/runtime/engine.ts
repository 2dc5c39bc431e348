// How an instance runs its data plane: in this process (`workers: 1`) or in cluster workers.
// Both look the same to the instance and to the admin API.
import type { GatehouseConfig } from '../config/schema.js';
import type { BoundListener } from '../dataplane/dataplane.js';

export interface Engine {
  /** Starts serving `config`; resolves with the bound listener addresses. */
  start(config: GatehouseConfig, version: number): Promise<BoundListener[]>;
  /** Swaps every data plane to `config`; resolves once all of them serve it. */
  apply(config: GatehouseConfig, version: number): Promise<void>;
  ready(): boolean;
  /** Graceful stop: drain in-flight requests, then release everything. */
  stop(): Promise<void>;
  readonly workerCount: number;
  /** Runtime state from every data plane (one entry each): e.g. `health` of a service. */
  inspect(query: InspectQuery): Promise<unknown[]>;
  /** SIGUSR1: every data plane reopens its access-log file. */
  reopenLogs(): void;
}

import type { AnalyticsWindow } from '../observability/analytics/analytics.js';

export type InspectQuery =
  | { what: 'health'; service: string }
  /** prom-client JSON of the plane's registry. */
  | { what: 'metrics' }
  /** The plane's analytics part over a window (observer.ts AnalyticsPart). */
  | { what: 'analytics'; window: AnalyticsWindow }
  /** The plane's rate-limit stores and their state (store/health.ts StoreStatus[]). */
  | { what: 'stores' };
