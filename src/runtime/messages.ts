// The messages between the cluster primary and its workers.
import type { GatehouseConfig } from '../config/schema.js';
import type { BoundListener } from '../dataplane/dataplane.js';
import type { DecisionRequest } from '../store/ipc.js';

export type ToWorker =
  | { t: 'config'; config: GatehouseConfig; version: number }
  | { t: 'shutdown' };

export type ToPrimary =
  | { t: 'up' } // the worker listens for messages now: send it the config
  | { t: 'listening'; version: number; listeners: BoundListener[] }
  | { t: 'applied'; version: number }
  | { t: 'failed'; message: string }
  | DecisionRequest; // a rate-limit decision for the primary's shared memory store
