// GET /consumers/:id/usage, answered by a data plane: every policy type whose definition has a
// `consumerUsage` hook (rate-limit, or a plugin's) reports what its entries count against the
// consumer. The data plane names no type: it hands each definition its own entries.
import type { GatehouseConfig } from '../config/schema.js';
import { policyDefinition } from '../policies/index.js';
import type { ConfigEntry, ConsumerRecord, UsageReport } from '../policies/types.js';
import type { StoreRegistry } from '../store/registry.js';

export interface ConsumerUsageAnswer extends UsageReport {
  consumer: string;
}

/**
 * undefined: no such consumer. `record`: the consumer, when the caller knows it better than
 * `config` does (an edit through /consumers reaches a data plane as a delta of its registry, not of
 * its plan's config).
 */
export async function consumerUsage(
  config: GatehouseConfig,
  stores: StoreRegistry,
  id: string,
  record?: ConsumerRecord,
): Promise<ConsumerUsageAnswer | undefined> {
  const consumer = record?.id === id ? record : config.consumers.find((c) => c.id === id);
  if (!consumer) return undefined;
  const byType = new Map<string, ConfigEntry<unknown>[]>();
  const add = (entry: { type: string }, route: string | undefined) => {
    let list = byType.get(entry.type);
    if (list === undefined) byType.set(entry.type, (list = []));
    list.push({ config: entry, route });
  };
  for (const p of config.policies) add(p, undefined);
  for (const r of config.routes) for (const p of r.policies) add(p, r.name);
  const answer: ConsumerUsageAnswer = { consumer: consumer.id, limits: [] };
  for (const [type, entries] of byType) {
    const def = policyDefinition(type);
    if (def?.consumerUsage === undefined) continue;
    try {
      const report = await def.consumerUsage(entries, consumer, { config, stores });
      if (report.plan !== undefined) answer.plan ??= report.plan;
      answer.limits.push(...report.limits);
    } catch (err) {
      // A plugin's hook that fails is its report's error, not the whole answer's.
      answer.limits.push({ policy: type, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return answer;
}
