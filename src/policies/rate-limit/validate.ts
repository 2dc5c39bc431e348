// What the rate-limit schemas alone cannot check: references between its top-level sections
// (`plans`, `defaultPlan`), `limits: plan` entries and consumers' plans. The definition's
// `validateSections` hook: the config layer runs it without knowing what a plan is.
import type { PolicyIssue, SectionCheckView } from '../types.js';
import { costProblem, maxCost, type Plans, type RateLimitConfig } from './schema.js';

export function planIssues(view: SectionCheckView): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  const plans = (view.sections.plans ?? {}) as Plans;
  const defaultPlan = view.sections.defaultPlan as string | undefined;
  const names = Object.keys(plans);
  if (defaultPlan !== undefined && !Object.hasOwn(plans, defaultPlan)) {
    out.push({
      path: 'defaultPlan',
      message: `plan "${defaultPlan}" is not defined${names.length ? ` (defined: ${names.join(', ')})` : ''}`,
    });
  }
  // A consumer's plan must exist once plans are in use: a misspelt plan would silently get the
  // default plan's limits.
  if (names.length > 0) {
    view.consumers.forEach((c, i) => {
      if (c.plan !== undefined && !Object.hasOwn(plans, c.plan)) {
        out.push({ path: `consumers[${i}].plan`, message: `plan "${c.plan}" is not defined (defined: ${names.join(', ')})` });
      }
    });
  }
  for (const { at, config } of view.entries) {
    const rl = config as RateLimitConfig;
    if (rl.limits !== 'plan') continue;
    if (names.length === 0) out.push({ path: `${at}.limits`, message: 'limits: plan needs top-level plans' });
    // Every plan's limits must admit this policy's dearest request.
    for (const [name, plan] of Object.entries(plans)) {
      plan.limits.forEach((l, j) => {
        const tooDear = costProblem(maxCost(rl.cost), l, l.algorithm ?? 'sliding-window');
        if (tooDear) out.push({ path: `${at}.cost`, message: `plan "${name}" limits[${j}]: ${tooDear}` });
      });
    }
  }
  return out;
}
