// What the rate-limit schema alone cannot check: references between `plans`, `defaultPlan`,
// `limits: plan`, consumers' plans and `store`.
import type { GatehouseConfig } from '../../config/schema.js';
import { costProblem, maxCost, type RateLimitConfig } from './schema.js';

export function trafficIssues(cfg: GatehouseConfig): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (cfg.store.type === 'redis' && cfg.store.url === undefined) out.push({ path: 'store.url', message: 'store type redis needs a url (redis://host:port)' });
  const plans = Object.keys(cfg.plans);
  if (cfg.defaultPlan !== undefined && !Object.hasOwn(cfg.plans, cfg.defaultPlan)) {
    out.push({ path: 'defaultPlan', message: `plan "${cfg.defaultPlan}" is not defined${plans.length ? ` (defined: ${plans.join(', ')})` : ''}` });
  }
  // A consumer's plan must exist once plans are in use: a misspelt plan would silently get the
  // default plan's limits.
  if (plans.length > 0) {
    (cfg.consumers ?? []).forEach((c, i) => {
      if (c.plan !== undefined && !Object.hasOwn(cfg.plans, c.plan)) {
        out.push({ path: `consumers[${i}].plan`, message: `plan "${c.plan}" is not defined (defined: ${plans.join(', ')})` });
      }
    });
  }
  const check = (policies: GatehouseConfig['policies'], at: string) =>
    policies.forEach((p, i) => {
      if (p.type !== 'rate-limit') return;
      const rl = p as RateLimitConfig;
      if (rl.limits !== 'plan') return;
      if (plans.length === 0) out.push({ path: `${at}[${i}].limits`, message: 'limits: plan needs top-level plans' });
      // Every plan's limits must admit this policy's dearest request.
      for (const [name, plan] of Object.entries(cfg.plans)) {
        plan.limits.forEach((l, j) => {
          const tooDear = costProblem(maxCost(rl.cost), l, l.algorithm ?? 'sliding-window');
          if (tooDear) out.push({ path: `${at}[${i}].cost`, message: `plan "${name}" limits[${j}]: ${tooDear}` });
        });
      }
    });
  check(cfg.policies, 'policies');
  cfg.routes.forEach((r, i) => check(r.policies, `routes[${i}].policies`));
  return out;
}
