// Admin endpoints of an instance whose config lives in a config store (docs/cluster.md):
// the versions, one version, the diff between two, a rollback (itself a new version), and the
// cluster's instances. Without a store they answer 404.
import type { IncomingMessage } from 'node:http';
import type { ApplyResult, Controller } from '../runtime/instance.js';
import { VersionUnreadableError, type ChangeMeta, type ConfigHistory } from '../runtime/config-history.js';
import { errorBody, ERRORS } from '../errors.js';
import { redactChanges, redactSecrets } from '../config/redact.js';
import { AdminError } from './errors.js';

type Answer = [number, unknown];

/** At most this many changes in one diff answer (`limit` up to it; the default is 1000). */
export const DIFF_MAX_CHANGES = 10_000;
const DIFF_DEFAULT_CHANGES = 1000;

/** Who made a change and why, from the request: `X-Gatehouse-Author`, `X-Gatehouse-Comment`. */
export function changeMeta(req: IncomingMessage, fallbackComment = ''): ChangeMeta {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : undefined;
  };
  return { author: header('x-gatehouse-author') ?? 'admin-api', comment: header('x-gatehouse-comment') ?? fallbackComment };
}

/** Handles /cluster and /config/…; undefined when the path is none of these. */
export function configStoreEndpoint(ctl: Controller, req: IncomingMessage, segments: string[]): Promise<Answer> | undefined {
  const isCluster = segments.length === 1 && segments[0] === 'cluster';
  const isVersions = segments[0] === 'config' && (segments[1] === 'versions' || (segments[1] === 'diff' && segments.length === 2));
  if (!isCluster && !isVersions) return undefined;
  return answer(ctl, req, segments).catch((err: unknown) => {
    if (err instanceof AdminError) throw err;
    // A version another writer stored too deep to walk: that version's fault, not an outage.
    if (err instanceof VersionUnreadableError || err instanceof RangeError)
      return [ERRORS.CONFIG_VERSION_UNREADABLE.status, errorBody('CONFIG_VERSION_UNREADABLE', undefined, err.message)];
    // The database is down: the instance still serves, the history cannot be read.
    return [ERRORS.CONFIG_STORE_UNAVAILABLE.status, errorBody('CONFIG_STORE_UNAVAILABLE', undefined, (err as Error).message)];
  });
}

async function answer(ctl: Controller, req: IncomingMessage, segments: string[]): Promise<Answer> {
  const history = ctl.history;
  if (!history) throw new AdminError('ADMIN_NOT_FOUND', 'This instance has no config store (configStore); its config is its file.');
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://admin');
  if (segments[0] === 'cluster') return only(method, 'GET', () => cluster(ctl, history));
  if (segments[1] === 'diff')
    return only(method, 'GET', async () => {
      const from = versionNumber(url.searchParams.get('from'), 'from');
      const to = versionNumber(url.searchParams.get('to'), 'to');
      const limit = url.searchParams.has('limit') ? versionNumber(url.searchParams.get('limit'), 'limit') : DIFF_DEFAULT_CHANGES;
      if (limit > DIFF_MAX_CHANGES) throw new AdminError('ADMIN_BAD_QUERY', `limit is at most ${DIFF_MAX_CHANGES}.`);
      const diff = await history.diff(from, to, limit);
      if (!diff) throw new AdminError('ADMIN_RESOURCE_NOT_FOUND', `No version ${from} or no version ${to}.`);
      // A changed leaf's key name is in its path, not in before/after: redact by the path.
      return [200, { from, to, changes: redactChanges(diff.changes), truncated: diff.truncated }];
    });
  if (segments.length === 2)
    return only(method, 'GET', async () => {
      const limit = url.searchParams.has('limit') ? versionNumber(url.searchParams.get('limit'), 'limit') : 50;
      const before = url.searchParams.has('before') ? versionNumber(url.searchParams.get('before'), 'before') : undefined;
      return [200, { configVersion: ctl.version, versions: await history.versions(Math.min(limit, 500), before) }];
    });
  const n = versionNumber(segments[2] ?? '', 'version');
  if (segments.length === 3)
    return only(method, 'GET', async () => {
      const v = await history.version(n);
      if (!v) throw new AdminError('ADMIN_RESOURCE_NOT_FOUND', `No config version ${n}.`);
      try {
        return [200, JSON.parse(JSON.stringify(redactSecrets(v))) as unknown];
      } catch (err) {
        // Nested deeper than redaction or JSON can walk: tested here, not when the answer is written.
        if (err instanceof RangeError) throw new VersionUnreadableError(n);
        throw err;
      }
    });
  if (segments.length === 4 && segments[3] === 'rollback')
    return only(method, 'POST', async () => {
      const restored = await history.restore(n);
      if (!restored) throw new AdminError('ADMIN_RESOURCE_NOT_FOUND', `No config version ${n}.`);
      const outcome: ApplyResult = await ctl.apply(restored, 'rollback', changeMeta(req, `rollback to version ${n}`));
      if (!outcome.ok) return [ERRORS[outcome.code].status, errorBody(outcome.code, undefined, undefined, outcome.errors)];
      return [200, { applied: !outcome.unchanged, configVersion: outcome.version, rolledBackTo: n }];
    });
  throw new AdminError('ADMIN_NOT_FOUND');
}

async function cluster(ctl: Controller, history: ConfigHistory): Promise<Answer> {
  return [200, { configVersion: ctl.version, ...(await history.cluster()) }];
}

async function only(method: string, allowed: string, run: () => Promise<Answer>): Promise<Answer> {
  if (method !== allowed) throw new AdminError('ADMIN_METHOD_NOT_ALLOWED');
  return run();
}

function versionNumber(s: string | null, what: string): number {
  if (s === null || !/^[1-9][0-9]{0,8}$/.test(s)) throw new AdminError('ADMIN_BAD_QUERY', `${what} must be a version number (1, 2, …).`);
  return Number(s);
}
