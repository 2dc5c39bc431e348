// The cache's admin endpoints: GET /cache/stats (every data plane's stores) and DELETE /cache with
// one of `key` (exact), `prefix` (of keys: `GET api.example.com/users/`) or `tag` (a surrogate key
// from the responses' Surrogate-Key / Cache-Tag). With workers each process has its own memory
// store: every one is asked, and the counts add up (a shared Redis store forgets once).
import type { IncomingMessage } from 'node:http';
import type { Controller } from '../runtime/instance.js';
import { AdminError } from './errors.js';

export async function cacheStatsEndpoint(ctl: Controller): Promise<[number, unknown]> {
  const planes = await ctl.inspect({ what: 'cache-stats' });
  const stores = planes.flatMap((p, i) =>
    Array.isArray(p) ? (p as object[]).map((s) => (planes.length > 1 ? { worker: i + 1, ...s } : s)) : [],
  );
  return [200, { configVersion: ctl.version, stores }];
}

export async function cachePurgeEndpoint(ctl: Controller, req: IncomingMessage): Promise<[number, unknown]> {
  const params = new URL(req.url ?? '/', 'http://admin').searchParams;
  const given = (['key', 'prefix', 'tag'] as const).filter((n) => params.has(n));
  if (given.length !== 1 || params.getAll(given[0]!).length !== 1)
    throw new AdminError('ADMIN_BAD_QUERY', 'Give exactly one of key, prefix or tag, once.');
  const name = given[0]!;
  const value = params.get(name)!;
  // An empty prefix would empty the whole cache: say so explicitly with prefix=GET (every key starts so).
  if (value === '' || value.length > 4096) throw new AdminError('ADMIN_BAD_QUERY', `${name} must be 1 to 4096 characters.`);
  const counts = await ctl.inspect({ what: 'cache-purge', [name]: value });
  const deleted = counts.reduce<number>((n, c) => n + (typeof c === 'number' ? c : 0), 0);
  return [200, { [name]: value, deleted }];
}
