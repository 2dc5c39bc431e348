// A route proxies to a `service` or is of a kind that answers by itself (`compose`: src/routes/),
// never both and never neither; a kind's route has no use for the proxy's path rewriting or
// WebSocket upgrades. The kind's own checks (services named, templates, cycles) run here too.
import { ROUTE_KINDS, routeKindOf } from '../routes/index.js';

export function routeKindIssues(
  r: Record<string, unknown>,
  refused: ReadonlySet<string>,
  services: ReadonlySet<string>,
): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const keys = ROUTE_KINDS.map((k) => k.key);
  if (refused.has('service') || keys.some((k) => refused.has(k))) return issues; // the schema said what is wrong
  const present = keys.filter((k) => r[k] !== undefined);
  if (present.length > 1) issues.push({ path: present[1]!, message: `a route is one kind: ${present.join(' and ')} together` });
  const kind = routeKindOf(r);
  if (kind === undefined) {
    if (r.service === undefined)
      issues.push({ path: 'service', message: `a route needs a service (or ${keys.join(' or ')}: a route that answers by itself)` });
    return issues;
  }
  const key = kind.def.key;
  if (r.service !== undefined) issues.push({ path: key, message: `a route has either service or ${key}, not both` });
  for (const k of ['stripPrefix', 'rewrite'] as const)
    if (r[k] !== undefined) issues.push({ path: k, message: `a ${key} route calls no one service: ${k} has nothing to rewrite` });
  if (r.websocket !== undefined && r.websocket !== false)
    issues.push({ path: 'websocket', message: `a ${key} route does not proxy WebSocket upgrades` });
  for (const x of kind.def.check?.(kind.config, services) ?? []) issues.push({ path: `${key}.${x.path}`, message: x.message });
  return issues;
}
