// What an instance whose config lives in a store (configStore; src/controlplane) offers besides
// applying: recording a change as a new version, the history, and the cluster's instances.
// Types only: the runtime and the admin API use these without importing the store.
import type { GatehouseConfig } from '../config/schema.js';
import type { ConfigIssue, ValidationResult } from '../validation/validate.js';

export interface ChangeMeta {
  author?: string;
  comment?: string;
}

export type CheckedConfig =
  { ok: true; config: GatehouseConfig } | { ok: false; code: 'CONFIG_INVALID' | 'CONFIG_RESTART_REQUIRED'; errors: ConfigIssue[] };

export type CommitOutcome =
  | { ok: true; version: number; config: GatehouseConfig; unchanged: boolean }
  | { ok: false; code: 'CONFIG_INVALID' | 'CONFIG_RESTART_REQUIRED' | 'CONFIG_STORE_UNAVAILABLE'; errors: ConfigIssue[] };

export interface ConfigCommitter {
  /**
   * Records a change as a new version: `make` gets the latest stored config (under the store's
   * lock), `check` validates its result as POST /config does; nothing is stored unless it passes.
   */
  commit(
    make: (current: GatehouseConfig) => ValidationResult,
    check: (r: ValidationResult) => CheckedConfig,
    meta: ChangeMeta,
  ): Promise<CommitOutcome>;
}

export interface VersionSummary {
  version: number;
  author: string;
  comment: string;
  createdAt: string;
}

export interface ClusterMember {
  id: string;
  address: string;
  appliedVersion: number;
  lastHeartbeat: string;
  lagging: boolean;
  stale: boolean;
  /** This is the instance that answered. */
  self?: boolean;
}

/** Reads of the store for the admin API; each throws when the store is unreachable. */
export interface ConfigHistory {
  versions(limit: number, before?: number): Promise<VersionSummary[]>;
  version(n: number): Promise<(VersionSummary & { config: Record<string, unknown> }) | undefined>;
  /** The stored documents of two versions compared; undefined when either does not exist. */
  diff(from: number, to: number): Promise<{ path: string; op: string; before?: unknown; after?: unknown }[] | undefined>;
  /** The stored config of version n validated with this instance's boot keys (for a rollback). */
  restore(n: number): Promise<ValidationResult | undefined>;
  cluster(): Promise<{ latestVersion: number; instances: ClusterMember[] }>;
}
