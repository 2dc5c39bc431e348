// Admin CRUD of single config objects: routes, services and rate-limit plans, under /config/…
// (GET /routes and GET /services already describe the compiled plan; their shapes stay). Each
// change is an edit of the newest config through Controller.applyEdit, so it is validated exactly
// as a whole config is (a route naming a missing service is 400 CONFIG_INVALID at routes[i].service)
// and edits run one at a time. Every answer about one object carries its ETag; PUT and DELETE take
// If-Match / If-None-Match (etag.ts). Answers are redacted like GET /config.
import type { IncomingMessage } from 'node:http';
import type { GatehouseConfig, RouteConfig } from '../config/schema.js';
import type { Controller } from '../runtime/instance.js';
import { redactSecrets } from '../config/redact.js';
import { validateConfig } from '../validation/validate.js';
import { errorBody } from '../errors.js';
import { EditQueue, Refusal, type AdminAnswer, type ReadBody } from './edits.js';
import { checkPreconditions, etagOf, page } from './etag.js';

type Kind = 'routes' | 'services' | 'plans';
export const CONFIG_KINDS: readonly Kind[] = ['routes', 'services', 'plans'];

/** What a kind's objects are called in messages. */
const NOUN: Record<Kind, string> = { routes: 'route', services: 'service', plans: 'plan' };

/** The objects of a kind, by name, in config order. */
function objects(config: GatehouseConfig, kind: Kind): [string, unknown][] {
  if (kind === 'routes') return config.routes.map((r) => [r.name, r]);
  if (kind === 'services') return Object.entries(config.services);
  // `plans` is a section the rate-limit policy contributes: the core config type does not name it.
  const plans = (config as unknown as { plans?: Record<string, unknown> }).plans ?? {};
  return Object.entries(plans);
}

function current(config: GatehouseConfig, kind: Kind, name: string): unknown {
  if (kind === 'routes') return config.routes.find((r) => r.name === name);
  const all = kind === 'services' ? config.services : ((config as unknown as { plans?: Record<string, unknown> }).plans ?? {});
  return Object.hasOwn(all, name) ? all[name] : undefined;
}

/** The config with object `name` of `kind` set to `value` (undefined: removed). A new route goes last. */
function withObject(config: GatehouseConfig, kind: Kind, name: string, value: unknown): Record<string, unknown> {
  if (kind === 'routes') {
    const routes: unknown[] = [...config.routes];
    const at = config.routes.findIndex((r) => r.name === name);
    if (value === undefined) routes.splice(at, 1);
    else if (at === -1) routes.push(value);
    else routes[at] = value;
    return { ...config, routes };
  }
  const key = kind === 'services' ? 'services' : 'plans';
  const all = (config as unknown as Record<string, Record<string, unknown> | undefined>)[key] ?? {};
  // Replaced in place, added last, or left out.
  const next = value === undefined ? Object.fromEntries(Object.entries(all).filter(([n]) => n !== name)) : { ...all, [name]: value };
  return { ...config, [key]: next };
}

/** Why an object may not be deleted: what still names it (the whole-config check would say so too, less plainly). */
function usedBy(config: GatehouseConfig, kind: Kind, name: string): string | undefined {
  if (kind === 'services') {
    const routes = config.routes.filter((r: RouteConfig) => r.service === name).map((r) => r.name);
    return routes.length ? `service "${name}" is used by route${routes.length > 1 ? 's' : ''} ${routes.join(', ')}` : undefined;
  }
  if (kind === 'plans') {
    if ((config as unknown as { defaultPlan?: string }).defaultPlan === name) return `plan "${name}" is the defaultPlan`;
    const users = config.consumers.filter((c) => c.plan === name);
    if (users.length)
      return `plan "${name}" is the plan of ${users.length} consumer${users.length > 1 ? 's' : ''} (${users
        .slice(0, 5)
        .map((c) => c.id)
        .join(', ')}${users.length > 5 ? ', …' : ''})`;
  }
  return undefined;
}

export class ConfigResourceEndpoints {
  private readonly edits = new EditQueue();

  constructor(
    private readonly ctl: Controller,
    private readonly readBody: ReadBody,
  ) {}

  /** Handles /config/<kind>[/<name>] given the decoded segments after `config`; undefined for other paths. */
  handle(req: IncomingMessage, parts: string[]): Promise<AdminAnswer> | undefined {
    const kind = parts[0] as Kind;
    if (!CONFIG_KINDS.includes(kind) || parts.length > 2 || (parts.length === 2 && parts[1] === '')) return undefined;
    const method = req.method ?? '';
    const name = parts[1];
    const allowed = name === undefined ? ['GET'] : ['GET', 'PUT', 'DELETE'];
    if (!allowed.includes(method)) return Promise.resolve([405, errorBody('ADMIN_METHOD_NOT_ALLOWED'), { allow: allowed.join(', ') }]);
    return this.edits.answer(
      method,
      () => this.read(req, kind, name),
      () => this.edit(req, method, kind, name!),
    );
  }

  private read(req: IncomingMessage, kind: Kind, name: string | undefined): AdminAnswer {
    const config = this.ctl.config;
    if (name === undefined) {
      const all = objects(config, kind);
      const shown = page(req.url, all, ([n]) => n);
      const list = (shown?.items ?? all).map(([n, v]) => (kind === 'routes' ? v : { name: n, ...(v as object) }));
      return [200, { configVersion: this.ctl.version, [kind]: redactSecrets(list), ...(shown && { next: shown.next }) }];
    }
    const value = current(config, kind, name);
    if (value === undefined) throw new Refusal('ADMIN_RESOURCE_NOT_FOUND', `no ${NOUN[kind]} "${name}"`);
    return [200, redactSecrets(value), { etag: etagOf(value)! }];
  }

  private async edit(req: IncomingMessage, method: string, kind: Kind, name: string): Promise<AdminAnswer> {
    const body = method === 'DELETE' ? undefined : await this.readBody(req);
    let status = 200;
    let applied: unknown;
    const make = (config: GatehouseConfig) => {
      const existing = current(config, kind, name);
      checkPreconditions(req, existing, `${NOUN[kind]} "${name}"`);
      if (method === 'DELETE') {
        if (existing === undefined) throw new Refusal('ADMIN_RESOURCE_NOT_FOUND', `no ${NOUN[kind]} "${name}"`);
        const used = usedBy(config, kind, name);
        if (used !== undefined) throw new Refusal('ADMIN_CONFLICT', `${used}: change or delete those first`);
        return validateConfig(withObject(config, kind, name, undefined));
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new Refusal('ADMIN_BAD_BODY', `the body is not a ${NOUN[kind]} (a JSON or YAML object)`);
      let value: Record<string, unknown> = body as Record<string, unknown>;
      if (kind === 'routes') {
        // A route's name is in the object; the path names it too, and the two must agree.
        if (value.name !== undefined && value.name !== name)
          throw new Refusal('CONFIG_INVALID', `the body names route ${JSON.stringify(value.name)}, the path "${name}"`);
        value = { name, ...value };
      } else if ('name' in value) {
        throw new Refusal('CONFIG_INVALID', `a ${NOUN[kind]} is named by the path: leave "name" out of the body`);
      }
      if (existing === undefined) status = 201;
      const result = validateConfig(withObject(config, kind, name, value));
      if (result.ok) applied = current(result.config, kind, name);
      return result;
    };
    const outcome = await this.ctl.applyEdit(make, `admin-api:${kind}`);
    if (!outcome.ok) throw new Refusal(outcome.code, undefined, outcome.errors);
    if (method === 'DELETE') return [200, { deleted: name, configVersion: outcome.version }];
    // The object as the schema filled it in (defaults), as GET shows it.
    return [status, { ...(redactSecrets(applied) as object), configVersion: outcome.version }, { etag: etagOf(applied)! }];
  }
}
