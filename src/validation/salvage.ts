// What the cross-reference checks (validate.ts) read. For a document the schema refused, that is
// every part that passes the schema on its own — down to single fields of services, routes, a
// route's `match` and targets — so a bad `hashOn` does not hide a bad target URL beside it, nor a
// bad path a duplicate route name. A refused part is simply absent: the checks only ever see
// well-formed values, and a check whose inputs are not all there does not run.
import type { z } from 'zod';
import type { ConfigSchemaType, GatehouseConfig, RouteConfig, ServiceConfig } from '../config/schema.js';

/** The fields of an object that passed the schema on their own, and the names of those that did not. */
export interface Salvaged<T> {
  data: Partial<T>;
  refused: ReadonlySet<string>;
}

type TargetConfig = ServiceConfig['targets'][number];
type MatchConfig = RouteConfig['match'];

export interface CheckedService {
  fields: Salvaged<ServiceConfig>;
  /** Every target, even when `targets` as a whole was refused (then `fields.refused` has it). */
  targets: Salvaged<TargetConfig>[];
}

export interface CheckedRoute {
  fields: Salvaged<RouteConfig>;
  match: Salvaged<MatchConfig>;
  /** Each path and host by its index; undefined where one was refused. */
  paths: (string | undefined)[];
  hosts: (string | undefined)[];
}

export interface Checkable extends Pick<GatehouseConfig, 'listen' | 'trustedProxies' | 'consumers' | 'policies'> {
  admin: Salvaged<GatehouseConfig['admin']>;
  /** Every named service: a refused one keeps its name (routes name it). */
  services: Record<string, CheckedService>;
  /** Every route, by index (error paths count on it). */
  routes: CheckedRoute[];
  /**
   * Every top-level section that passed its schema, by key (`store`, and the sections policies
   * contribute, such as rate-limit's `plans`): a check runs only when all it reads is here.
   */
  sections: Readonly<Record<string, unknown>>;
  /** The top-level keys that did not pass their schema. */
  refusedSections: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();
const whole = <T>(data: T): Salvaged<T> => ({ data, refused: NONE });

/** A config that passed the schema, as the checks read it. */
export function checkableConfig(cfg: GatehouseConfig): Checkable {
  const services: Checkable['services'] = {};
  for (const [name, svc] of Object.entries(cfg.services)) services[name] = { fields: whole(svc), targets: svc.targets.map(whole) };
  return {
    ...cfg,
    admin: whole(cfg.admin),
    services,
    routes: cfg.routes.map((r) => ({ fields: whole(r), match: whole(r.match), paths: r.match.paths, hosts: r.match.hosts ?? [] })),
    sections: cfg,
    refusedSections: NONE,
  };
}

/** The sub-schemas salvage parses with, read once per config schema (one per set of plugins). */
function partsOf(schema: ConfigSchemaType) {
  const shape = schema.shape;
  const serviceSchema = shape.services.unwrap().valueType;
  const routeSchema = shape.routes.unwrap().element;
  return {
    shape,
    serviceSchema,
    targetSchema: serviceSchema.shape.targets.element,
    routeSchema,
    matchSchema: routeSchema.shape.match.unwrap(),
  };
}
const partsCache = new WeakMap<ConfigSchemaType, ReturnType<typeof partsOf>>();

/** The parts of a refused document that pass the schema on their own. */
export function salvage(doc: unknown, schema: ConfigSchemaType): Checkable {
  let parts = partsCache.get(schema);
  if (parts === undefined) partsCache.set(schema, (parts = partsOf(schema)));
  const { shape, serviceSchema, targetSchema } = parts;
  const d = isRecord(doc) ? doc : {};
  const services: Checkable['services'] = {};
  if (isRecord(d.services)) {
    for (const [name, raw] of Object.entries(d.services)) {
      const fields = salvageFields(serviceSchema, raw);
      const rawTargets = isRecord(raw) && Array.isArray(raw.targets) ? raw.targets : [];
      const targets = fields.data.targets?.map(whole) ?? rawTargets.map((t) => salvageFields(targetSchema, t));
      services[name] = { fields, targets };
    }
  }
  const sections: Record<string, unknown> = {};
  const refusedSections = new Set<string>();
  for (const [key, field] of Object.entries(shape as Record<string, z.ZodType>)) {
    const r = field.safeParse(d[key]);
    if (r.success) sections[key] = r.data;
    else refusedSections.add(key);
  }
  return {
    listen: tryParse(shape.listen, d.listen) ?? [],
    admin: salvageFields(shape.admin.unwrap(), d.admin ?? {}),
    trustedProxies: tryParse(shape.trustedProxies, d.trustedProxies) ?? [],
    consumers: tryParse(shape.consumers, d.consumers) ?? [],
    policies: tryParse(shape.policies, d.policies) ?? [],
    services,
    routes: Array.isArray(d.routes) ? d.routes.map((r) => salvageRoute(r, parts)) : [],
    sections,
    refusedSections,
  };
}

function salvageRoute(raw: unknown, { routeSchema, matchSchema }: ReturnType<typeof partsOf>): CheckedRoute {
  const fields = salvageFields(routeSchema, raw);
  const rawMatch = isRecord(raw) ? (raw.match ?? {}) : undefined;
  const match = fields.data.match ? whole(fields.data.match) : salvageFields(matchSchema, rawMatch);
  const each = (key: 'paths' | 'hosts'): (string | undefined)[] => {
    const ok = match.data[key];
    if (ok) return ok;
    const items = isRecord(rawMatch) ? rawMatch[key] : undefined;
    return Array.isArray(items) ? items.map((p) => tryParse(matchSchema.shape[key].unwrap().element, p)) : [];
  };
  return { fields, match, paths: each('paths'), hosts: each('hosts') };
}

/**
 * Parses an object schema's fields one by one (absent ones get their defaults; unknown keys are
 * ignored, the schema reports them). Not an object at all: every field is refused.
 */
export function salvageFields<S extends z.ZodObject>(schema: S, value: unknown): Salvaged<z.output<S>> {
  const data: Record<string, unknown> = {};
  const refused = new Set<string>();
  for (const [key, field] of Object.entries<z.ZodType>(schema.shape)) {
    const r = isRecord(value) ? field.safeParse(value[key]) : undefined;
    if (r?.success) {
      if (r.data !== undefined) data[key] = r.data;
    } else refused.add(key);
  }
  return { data: data as Partial<z.output<S>>, refused };
}

function tryParse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | undefined {
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
