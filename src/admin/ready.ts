// GET /ready: whether the instance serves its config, and the state of the stores its policies
// count in (rate limits), when there are any. A store that is down does not make the instance unready: each policy's
// onStoreError answers for it, and pulling every instance off a load balancer because their
// shared Redis is down would turn a degraded service into none.
import type { Controller } from '../runtime/instance.js';
import type { StoreStatus } from '../store/health.js';

/**
 * A probe must answer quickly. Workers answer in well under a millisecond, but one that has just
 * died (and is not yet known to be) never does: past this wait the stores are left out.
 */
const STORES_WAIT_MS = 250;

/**
 * `detailed`: the caller holds the admin token (or none is configured). /ready answers probes
 * without a token, and store states name hosts and carry error text: those are for operators only.
 */
export async function readyEndpoint(ctl: Controller, detailed: boolean): Promise<[number, unknown]> {
  if (!ctl.ready()) return [503, { status: 'not ready' }];
  // Which policies use a store is theirs to know (compiling the plan tells: nothing here names a
  // policy type). Without one there is nothing to ask the data planes, and no worker to wait for.
  if (!detailed || !ctl.plan.usesStores) return [200, { status: 'ready', configVersion: ctl.version, workers: ctl.workerCount }];
  const stores = await storeStates(ctl);
  // A worker that died while we asked: say so now rather than at the next probe.
  if (!ctl.ready()) return [503, { status: 'not ready' }];
  const body = { status: 'ready', configVersion: ctl.version, workers: ctl.workerCount };
  return [200, stores.length > 0 ? { ...body, stores } : body];
}

/** Every data plane's stores; with workers each entry says which worker (1..n, as they answered). */
export async function storeStates(ctl: Controller): Promise<(StoreStatus & { worker?: number })[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<unknown[]>((resolve) => {
    timer = setTimeout(() => resolve([]), STORES_WAIT_MS);
  });
  const planes = await Promise.race([ctl.inspect({ what: 'stores' }), late]);
  clearTimeout(timer);
  const lists = planes.filter((p): p is StoreStatus[] => Array.isArray(p));
  if (lists.length <= 1) return lists[0] ?? [];
  return lists.flatMap((list, i) => list.map((s) => ({ worker: i + 1, ...s })));
}
