// GET /consumers/:id/usage: a consumer's usage of each rate limit and quota that counts it, read by
// the data plane from the store the policies count in (policies/rate-limit/usage.ts). With workers
// they share one store (the primary's memory or Redis): the first answer is every worker's.
import type { Controller } from '../../runtime/instance.js';
import type { ConsumerUsage } from '../../policies/rate-limit/usage.js';
import { AdminError } from '../errors.js';

export async function usageEndpoint(ctl: Controller, id: string): Promise<[number, unknown]> {
  const record = ctl.config.consumers.find((c) => c.id === id);
  if (!record) throw new AdminError('ADMIN_RESOURCE_NOT_FOUND', `No consumer "${id}".`);
  // The record travels with the question: a consumer added or edited through /consumers since the
  // last whole-config apply is in the data planes' registries, not in their plans' config.
  const planes = await ctl.inspect({ what: 'usage', consumer: id, record });
  const usage = planes.find((p): p is ConsumerUsage => typeof p === 'object' && p !== null);
  if (!usage) throw new AdminError('ADMIN_RESOURCE_NOT_FOUND', `No consumer "${id}".`);
  return [200, usage];
}
