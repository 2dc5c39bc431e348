// What an instance whose config lives in a store (configStore; src/controlplane) offers besides
// applying: recording a change as a new version, the history, and the cluster's instances.
// Types (and one error class): the runtime and the admin API use these without importing the store.
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
  /**
   * Records a change made on the config this instance serves, version `base`: `build` gives it
   * checked (and whether it changes nothing), under the store's lock. Undefined, with nothing
   * recorded, when the store's latest version is not `base` (make the change the `commit` way).
   */
  commitOn(base: number, build: () => CheckedConfig & { unchanged?: boolean }, meta: ChangeMeta): Promise<CommitOutcome | undefined>;
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
  /**
   * The stored documents of two versions compared, the first `limit` changes and whether there are
   * more; undefined when either does not exist.
   */
  diff(
    from: number,
    to: number,
    limit: number,
  ): Promise<{ changes: { path: string; op: string; before?: unknown; after?: unknown }[]; truncated: boolean } | undefined>;
  /** The stored config of version n validated with this instance's boot keys (for a rollback). */
  restore(n: number): Promise<ValidationResult | undefined>;
  cluster(): Promise<{ latestVersion: number; instances: ClusterMember[] }>;
}

/**
 * A stored version exists but cannot be shown or compared (another writer stored a document nested
 * deeper than can be walked): the version's fault, not the database's (not 503).
 */
export class VersionUnreadableError extends Error {
  constructor(readonly version: number) {
    super(`config version ${version} cannot be read: its document is nested too deep to show or compare`);
  }
}
