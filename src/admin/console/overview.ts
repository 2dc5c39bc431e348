// GET /overview: the console's header numbers in one answer — version, config version, uptime,
// workers, store states, and how many routes, services and consumers the running config has.
import type { Controller } from '../../runtime/instance.js';
import { VERSION } from '../../version.js';
import { storeStates } from '../ready.js';

export async function overviewEndpoint(ctl: Controller, startedAt: Date): Promise<[number, unknown]> {
  // Only asked when a policy uses a store (as /ready does): nothing to wait for otherwise.
  const listed = ctl.plan.usesStores ? await storeStates(ctl) : [];
  // With workers each reports the same stores: one entry per store, its worst state.
  const stores = new Map<string, { name: string; kind: string; state: string }>();
  const rank = { down: 2, unknown: 1, up: 0 } as const;
  for (const s of listed) {
    const seen = stores.get(s.store);
    if (!seen || rank[s.state] > rank[seen.state as keyof typeof rank])
      stores.set(s.store, { name: s.store, kind: s.type, state: s.state });
  }
  const config = ctl.config;
  return [
    200,
    {
      version: VERSION,
      configVersion: ctl.version,
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.floor((Date.now() - startedAt.getTime()) / 1000),
      workers: ctl.workerCount,
      stores: [...stores.values()],
      configStore: ctl.history ? { present: true, version: ctl.version } : { present: false },
      routes: config.routes.length,
      services: Object.keys(config.services).length,
      consumers: config.consumers.length,
    },
  ];
}
