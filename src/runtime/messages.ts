// The messages between the cluster primary and its workers.
import type { GatehouseConfig } from '../config/schema.js';
import type { BoundListener } from '../dataplane/dataplane.js';
import type { InspectQuery } from './engine.js';
import type { DecisionRequest } from '../store/ipc.js';
import type { ConsumerDelta } from '../identity/registry.js';

export type ToWorker =
  /** `pluginDigests`: each plugin entry file's sha-256 as the primary loaded it (plugins.ts). */
  | { t: 'config'; config: GatehouseConfig; version: number; pluginDigests: Record<string, string> }
  /** A change of some consumers only (admin consumer edits): applied to the worker's current plan. */
  | { t: 'consumers'; delta: ConsumerDelta; version: number }
  | { t: 'shutdown' }
  | { t: 'reopenLogs' }
  | { t: 'inspect'; id: number; query: InspectQuery }
  | { t: 'activeHealth'; service: string; targets: { key: string; healthy: boolean; reason: string }[] };

export type ToPrimary =
  | { t: 'up' } // the worker listens for messages now: send it the config
  | { t: 'listening'; version: number; listeners: BoundListener[] }
  | { t: 'applied'; version: number }
  | { t: 'failed'; message: string }
  | { t: 'inspected'; id: number; data: unknown }
  | DecisionRequest; // a rate-limit decision for the primary's shared memory store
