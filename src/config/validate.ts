// Turns an untrusted document into a GatehouseConfig, or into a list of `path: message` errors.
// Schema checks come from zod; what a schema cannot say (references, duplicates, patterns that
// must compile) is checked here, so `gatehouse validate` and the admin API agree exactly.
import { z } from 'zod';
import { parseDuration } from './units.js';
import { ConfigSchema, type GatehouseConfig, type RouteConfig, type ServiceConfig } from './schema.js';
import { parsePathPattern } from '../dataplane/path-pattern.js';
import { parseHostPattern } from '../dataplane/host-pattern.js';
import { parseCidr } from '../dataplane/trusted-proxies.js';
import { identityIssues } from '../identity/validate-identity.js';
import { trafficIssues } from '../policies/rate-limit/validate.js';

export interface ConfigIssue { path: string; message: string }
export type ValidationResult = { ok: true; config: GatehouseConfig } | { ok: false; errors: ConfigIssue[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

function zodIssues(error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: formatPath([...issue.path, key]), message: `unknown key "${key}"` });
      }
      continue;
    }
    if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
      out.push({ path: formatPath(issue.path.at(-1) === 'type' ? issue.path : [...issue.path, 'type']), message: `unknown policy type (known: ${policyTypes().join(', ')})` });
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest rather than "Invalid input".
      const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
      const nested = best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })) as z.core.$ZodIssue[];
      if (nested.length > 0) {
        out.push(...zodIssues(new z.ZodError(nested)));
        continue;
      }
    }
    out.push({ path: formatPath(issue.path), message: issue.message });
  }
  return out;
}

let knownPolicyTypes: string[] | undefined;
function policyTypes(): string[] {
  knownPolicyTypes ??= ConfigSchema.shape.policies.unwrap().element.options.map((o) => String(o.shape.type.value));
  return knownPolicyTypes;
}

export function validateConfig(doc: unknown): ValidationResult {
  const parsed = ConfigSchema.safeParse(doc ?? {});
  // The checks below still run on the parts that pass the schema, so one run reports every
  // error (a missing service as well as a bad duration) rather than one batch per fix.
  if (!parsed.success) return { ok: false, errors: [...zodIssues(parsed.error), ...semanticIssues(salvage(doc))] };
  const errors = [...semanticIssues(parsed.data), ...trafficIssues(parsed.data)];
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: parsed.data };
}

/** What the semantic checks read. A refused document gives `undefined` for its refused services and routes. */
interface Checkable extends Pick<GatehouseConfig, 'listen' | 'admin' | 'trustedProxies' | 'consumers' | 'policies'> {
  /** A refused service keeps its name (routes name it) but is not checked itself. */
  services: Record<string, ServiceConfig | undefined>;
  /** A refused route keeps its index (error paths count on it) but is not checked itself. */
  routes: (RouteConfig | undefined)[];
}

/** The sections, services and routes of a refused document that pass the schema on their own. */
function salvage(doc: unknown): Checkable {
  const d = isRecord(doc) ? doc : {};
  const shape = ConfigSchema.shape;
  const serviceSchema = shape.services.unwrap().valueType;
  const routeSchema = shape.routes.unwrap().element;
  const services: Checkable['services'] = {};
  if (isRecord(d.services)) for (const [name, svc] of Object.entries(d.services)) services[name] = tryParse(serviceSchema, svc);
  return {
    listen: tryParse(shape.listen, d.listen) ?? [],
    admin: tryParse(shape.admin, d.admin) ?? { enabled: false, port: 0, host: '' },
    trustedProxies: tryParse(shape.trustedProxies, d.trustedProxies) ?? [],
    consumers: tryParse(shape.consumers, d.consumers) ?? [],
    policies: tryParse(shape.policies, d.policies) ?? [],
    services,
    routes: Array.isArray(d.routes) ? d.routes.map((r) => tryParse(routeSchema, r)) : [],
  };
}

function tryParse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | undefined {
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function semanticIssues(cfg: Checkable): ConfigIssue[] {
  const errors: ConfigIssue[] = [];
  const add = (path: string, message: string) => errors.push({ path, message });

  const ports = new Map<string, string>();
  cfg.listen.forEach((l, i) => {
    const key = `${l.host}:${l.port}`;
    if (l.port !== 0 && ports.has(key)) add(`listen[${i}].port`, `${key} is already used by ${ports.get(key)}`);
    ports.set(key, `listen[${i}]`);
  });
  if (cfg.admin.enabled && cfg.admin.port !== 0 && cfg.listen.some((l) => l.port === cfg.admin.port)) {
    add('admin.port', `port ${cfg.admin.port} is a data-plane port; the admin API needs its own`);
  }
  cfg.trustedProxies.forEach((c, i) => {
    if (!parseCidr(c)) add(`trustedProxies[${i}]`, `"${c}" is not an IP address or CIDR`);
  });

  for (const [name, svc] of Object.entries(cfg.services)) {
    if (!svc) continue;
    svc.targets.forEach((t, i) => {
      const problem = targetUrlProblem(t.url);
      if (problem) add(`services.${name}.targets[${i}].url`, problem);
    });
    if (svc.targets.every((t) => t.weight === 0)) add(`services.${name}.targets`, 'every target has weight 0');
    if (svc.hashOn === undefined && svc.balancer === 'consistent-hash') {
      add(`services.${name}.hashOn`, 'consistent-hash needs hashOn: ip, consumer, path, header:<name>, cookie:<name> or query:<name>');
    }
    if (svc.hashOn !== undefined && svc.balancer !== 'consistent-hash') {
      add(`services.${name}.hashOn`, `hashOn is only used by balancer: consistent-hash (this service uses ${svc.balancer})`);
    }
    const backoff = svc.retries?.backoff;
    if (backoff && parseDuration(backoff.base) > parseDuration(backoff.max)) add(`services.${name}.retries.backoff`, 'base is longer than max');
    const cb = svc.circuitBreaker;
    if (cb && parseDuration(cb.openDuration) > parseDuration(cb.maxOpenDuration)) add(`services.${name}.circuitBreaker.openDuration`, 'openDuration is longer than maxOpenDuration');
  }

  const routeNames = new Map<string, number>();
  cfg.routes.forEach((r, i) => {
    if (!r) return;
    const at = `routes[${i}]`;
    const prev = routeNames.get(r.name);
    if (prev !== undefined) add(`${at}.name`, `duplicate route name "${r.name}" (also routes[${prev}])`);
    else routeNames.set(r.name, i);
    if (!Object.hasOwn(cfg.services, r.service)) {
      const known = Object.keys(cfg.services);
      add(`${at}.service`, `service "${r.service}" is not defined${known.length ? ` (defined: ${known.join(', ')})` : ''}`);
    }
    if (r.stripPrefix !== undefined && r.rewrite !== undefined) add(`${at}.rewrite`, 'use either stripPrefix or rewrite, not both');
    r.match.hosts?.forEach((h, j) => {
      const res = parseHostPattern(h);
      if ('error' in res) add(`${at}.match.hosts[${j}]`, res.error);
    });
    const paramSets: Set<string>[] = [];
    r.match.paths.forEach((p, j) => {
      const res = parsePathPattern(p);
      if ('error' in res) add(`${at}.match.paths[${j}]`, res.error);
      else paramSets.push(new Set([...res.params, ...(res.wildcard ? ['*'] : [])]));
    });
    if (r.rewrite !== undefined) {
      const res = parsePathPattern(r.rewrite);
      const needs = 'error' in res ? [] : [...res.params, ...(res.wildcard ? ['*'] : [])];
      for (const need of needs) {
        if (paramSets.some((s) => !s.has(need))) {
          add(`${at}.rewrite`, `"${need === '*' ? '*' : ':' + need}" is not captured by every path of this route`);
        }
      }
      if ('error' in res) add(`${at}.rewrite`, res.error);
    }
    for (const kind of ['headers', 'query'] as const) {
      for (const [k, m] of Object.entries(r.match[kind] ?? {})) {
        if (typeof m === 'object' && 'regex' in m) {
          try { new RegExp(m.regex); } catch (e) { add(`${at}.match.${kind}.${k}.regex`, `invalid regular expression: ${(e as Error).message}`); }
        }
      }
    }
  });
  errors.push(...identityIssues(cfg as Parameters<typeof identityIssues>[0]));
  return errors;
}

function targetUrlProblem(raw: string): string | undefined {
  let u: URL;
  try { u = new URL(raw); } catch { return `"${raw}" is not a URL`; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http:// and https:// targets are supported, not ${u.protocol}`;
  if (u.username || u.password) return 'credentials in a target URL are not supported';
  if (u.search || u.hash) return 'a target URL has no query or fragment';
  if (!u.hostname) return 'a target URL needs a host';
  return undefined;
}
