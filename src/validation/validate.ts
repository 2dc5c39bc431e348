// Turns an untrusted document into a GatehouseConfig, or into a list of `path: message` errors.
// Schema checks come from zod; what a schema cannot say (references, duplicates, patterns that
// must compile) is checked here, so `gatehouse validate` and the admin API agree exactly.
import { z } from 'zod';
import { parseDuration } from '../config/units.js';
import { buildConfigSchema, type GatehouseConfig, type ServiceConfig } from '../config/schema.js';
import type { ConsumerConfig } from '../config/consumer-schema.js';
import { checkableConfig, salvage, type Checkable } from './salvage.js';
import { adminExposureIssues } from '../config/admin-exposure.js';
import { formatPath, issueLines, parseKeepingKeys, type KnownKeys } from '../config/zod-issues.js';
import { parsePathPattern } from '../config/path-pattern.js';
import { parseHostPattern } from '../config/host-pattern.js';
import { parseCidr } from '../config/cidr.js';
import { routeKindIssues } from './route-kinds.js';
import { identityIssues, policyIdentityIssues, type PolicyCheck } from '../identity/validate-identity.js';
import { tlsIssues } from '../edge/tls/validate-tls.js';
import { protocolSchemeProblem } from '../config/http2-schema.js';
import {
  BUILTIN_POLICIES,
  ConfigSchema,
  loadedPlugin,
  policyDefinition,
  policyDefinitions,
  type PolicyDefinition,
} from '../policies/index.js';

export interface ConfigIssue {
  path: string;
  message: string;
}
export type ValidationResult = { ok: true; config: GatehouseConfig } | { ok: false; errors: ConfigIssue[] };

export { formatPath } from '../config/zod-issues.js';

/** The schema's issues as lines; an unknown policy type names the types this config knows. */
function zodIssues(issues: readonly z.core.$ZodIssue[], known: KnownKeys, types: readonly string[]): ConfigIssue[] {
  return issueLines(issues, known, '', (issue) =>
    issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator'
      ? {
          path: formatPath(issue.path.at(-1) === 'type' ? issue.path : [...issue.path, 'type']),
          message: `unknown policy type (known: ${types.join(', ')})`,
        }
      : undefined,
  );
}

const BUILTIN = { schema: ConfigSchema, defs: BUILTIN_POLICIES, types: BUILTIN_POLICIES.map((d) => d.type) };
/** One schema per set of plugins a config loads (few sets in a process's life). */
const withPlugins = new Map<string, typeof BUILTIN>();

/**
 * The schema for a document: the built-in one, or one that knows the types of the plugins it
 * lists. A listed plugin must already be loaded (a config file's are, by load.ts, before this
 * runs): loading runs code, which a document from the admin API may never cause.
 */
function schemaFor(doc: unknown, issues: ConfigIssue[]): typeof BUILTIN {
  const listed = typeof doc === 'object' && doc !== null ? (doc as { plugins?: unknown }).plugins : undefined;
  if (!Array.isArray(listed) || listed.length === 0) return BUILTIN;
  const urls: string[] = [];
  listed.forEach((u, i) => {
    if (typeof u !== 'string') return; // the schema reports it
    if (loadedPlugin(u) !== undefined) urls.push(u);
    else
      issues.push({
        path: `plugins[${i}]`,
        message: `plugin ${JSON.stringify(u)} is not loaded: plugins load only from a config file (at start or on reload), never from a config sent to the admin API`,
      });
  });
  const key = urls.join('\n');
  let entry = withPlugins.get(key);
  if (entry === undefined) {
    const defs = policyDefinitions(urls);
    entry = { schema: buildConfigSchema(defs), defs, types: defs.map((d) => d.type) };
    withPlugins.set(key, entry);
  }
  return entry;
}

/**
 * Consumer lists known valid: the `consumers` of a config that passed validation, or a list a
 * consumer change made from one after it was checked (runtime/consumer-edit.ts, which refuses
 * exactly what a whole validation refuses: test/consumers-delta-parity.test.ts). Frozen, so never
 * changed after. Given again (a route, service or plan edit keeps `consumers` as it is), such a
 * list is not parsed again — the schema's output for it is itself — nor checked for duplicates
 * (it has none); what involves the rest of the config (references, plans) is checked as always.
 * With 100,000 consumers that is most of a validation's time.
 */
const validConsumers = new WeakMap<readonly ConsumerConfig[], ReadonlySet<string>>();

/** Records `list` as a valid consumer list (see validConsumers); it is frozen. */
export function markValidConsumers(list: readonly ConsumerConfig[]): void {
  if (validConsumers.has(list)) return;
  Object.freeze(list);
  validConsumers.set(list, new Set(list.map((c) => c.id)));
}

/** Whether `list` is a consumer list known valid (validConsumers). */
export function isValidConsumerList(list: unknown): boolean {
  return Array.isArray(list) && validConsumers.has(list);
}

function knownConsumers(doc: unknown): { list: readonly ConsumerConfig[]; ids: ReadonlySet<string> } | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const list = (doc as { consumers?: unknown }).consumers;
  const ids = Array.isArray(list) ? validConsumers.get(list) : undefined;
  return ids && { list: list as readonly ConsumerConfig[], ids };
}

export function validateConfig(doc: unknown): ValidationResult {
  const pluginIssues: ConfigIssue[] = [];
  const { schema, defs, types } = schemaFor(doc, pluginIssues);
  const known = knownConsumers(doc);
  // A known-valid list is left out of the schema's parse and put back as it is.
  const parsed = parseKeepingKeys(schema, known ? { ...(doc as object), consumers: [] } : (doc ?? {}));
  if (parsed.success) {
    if (known) parsed.data.consumers = known.list as ConsumerConfig[];
    const errors = [...pluginIssues, ...semanticIssues(checkableConfig(parsed.data), defs, known?.ids)];
    if (errors.length > 0) return { ok: false, errors };
    markValidConsumers(parsed.data.consumers);
    return { ok: true, config: parsed.data };
  }
  // The checks below still run on the parts that pass the schema, so one run reports every
  // error (a missing service as well as a bad duration) rather than one batch per fix.
  const errors = [...pluginIssues, ...zodIssues(parsed.issues, parsed.known, types)];
  const seen = new Set(errors.map((e) => `${e.path}\0${e.message}`));
  for (const e of semanticIssues(salvage(doc, schema), defs)) {
    const key = `${e.path}\0${e.message}`;
    if (!seen.has(key)) errors.push(e);
    seen.add(key);
  }
  return { ok: false, errors };
}

/** `knownIds`: the consumers are a known-valid list with these ids (their own checks are skipped). */
function semanticIssues(cfg: Checkable, defs: readonly PolicyDefinition[], knownIds?: ReadonlySet<string>): ConfigIssue[] {
  const errors: ConfigIssue[] = [];
  const add = (path: string, message: string) => errors.push({ path, message });

  const ports = new Map<string, string>();
  cfg.listen.forEach((l, i) => {
    const key = `${l.host}:${l.port}`;
    if (l.port !== 0 && ports.has(key)) add(`listen[${i}].port`, `${key} is already used by ${ports.get(key)}`);
    ports.set(key, `listen[${i}]`);
    if (l.tls) errors.push(...tlsIssues(l.tls, `listen[${i}]`));
    if (l.tls && l.http2 !== undefined)
      add(`listen[${i}].http2`, 'a TLS listener offers HTTP/2 through ALPN (tls.alpn); http2 is for plain listeners (h2c)');
    if (l.tls && l.redirectHttps !== undefined && l.redirectHttps !== false)
      add(`listen[${i}].redirectHttps`, 'a TLS listener serves HTTPS already; redirectHttps is for plain-HTTP listeners');
  });
  const admin = cfg.admin.data;
  if (admin.enabled === true && admin.port !== undefined && admin.port !== 0 && cfg.listen.some((l) => l.port === admin.port)) {
    add('admin.port', `port ${admin.port} is a data-plane port; the admin API needs its own`);
  }
  if (!['enabled', 'host', 'token', 'allowRemoteWithoutToken'].some((k) => cfg.admin.refused.has(k)))
    errors.push(...adminExposureIssues(admin));
  cfg.trustedProxies.forEach((c, i) => {
    if (!parseCidr(c)) add(`trustedProxies[${i}]`, `"${c}" is not an IP address or CIDR`);
  });

  for (const [name, { fields, targets }] of Object.entries(cfg.services)) {
    const svc = fields.data;
    const has = (key: keyof ServiceConfig) => !fields.refused.has(key);
    targets.forEach((t, i) => {
      const problem =
        t.data.url === undefined ? undefined : (targetUrlProblem(t.data.url) ?? protocolSchemeProblem(svc.protocol, t.data.url));
      if (problem) add(`services.${name}.targets[${i}].url`, problem);
    });
    if (has('targets') && svc.targets?.every((t) => t.weight === 0)) add(`services.${name}.targets`, 'every target has weight 0');
    if (has('hashOn') && has('balancer')) {
      if (svc.hashOn === undefined && svc.balancer === 'consistent-hash') {
        add(`services.${name}.hashOn`, 'consistent-hash needs hashOn: ip, consumer, path, header:<name>, cookie:<name> or query:<name>');
      }
      if (svc.hashOn !== undefined && svc.balancer !== 'consistent-hash') {
        add(`services.${name}.hashOn`, `hashOn is only used by balancer: consistent-hash (this service uses ${svc.balancer})`);
      }
    }
    if (has('healthCheck') && has('protocol') && svc.healthCheck?.active?.type === 'grpc' && (svc.protocol ?? 'http1') === 'http1')
      add(`services.${name}.healthCheck.active.type`, 'a grpc check is an HTTP/2 call: the service needs protocol h2 or h2c');
    // grpcStatuses retry only the calls of grpcMethods: without them the setting would do nothing.
    if (svc.retries?.grpcStatuses !== undefined && svc.retries.grpcMethods.length === 0)
      add(`services.${name}.retries.grpcStatuses`, 'grpcStatuses retries only the methods listed in grpcMethods: list them');
    const backoff = svc.retries?.backoff;
    if (backoff && parseDuration(backoff.base) > parseDuration(backoff.max))
      add(`services.${name}.retries.backoff`, 'base is longer than max');
    const cb = svc.circuitBreaker;
    if (cb && parseDuration(cb.openDuration) > parseDuration(cb.maxOpenDuration))
      add(`services.${name}.circuitBreaker.openDuration`, 'openDuration is longer than maxOpenDuration');
  }

  const routeNames = new Map<string, number>();
  const serviceNames = new Set(Object.keys(cfg.services));
  cfg.routes.forEach(({ fields, match, paths, hosts }, i) => {
    const r = fields.data;
    const at = `routes[${i}]`;
    if (r.name !== undefined) {
      const prev = routeNames.get(r.name);
      if (prev !== undefined) add(`${at}.name`, `duplicate route name "${r.name}" (also routes[${prev}])`);
      else routeNames.set(r.name, i);
    }
    if (r.service !== undefined && !Object.hasOwn(cfg.services, r.service)) {
      const known = Object.keys(cfg.services);
      add(`${at}.service`, `service "${r.service}" is not defined${known.length ? ` (defined: ${known.join(', ')})` : ''}`);
    }
    if (r.stripPrefix !== undefined && r.rewrite !== undefined) add(`${at}.rewrite`, 'use either stripPrefix or rewrite, not both');
    routeKindIssues(r, fields.refused, serviceNames).forEach((x) => add(`${at}.${x.path}`, x.message));
    hosts.forEach((h, j) => {
      const res = h === undefined ? undefined : parseHostPattern(h);
      if (res && 'error' in res) add(`${at}.match.hosts[${j}]`, res.error);
    });
    const paramSets: Set<string>[] = [];
    paths.forEach((p, j) => {
      const res = p === undefined ? undefined : parsePathPattern(p);
      if (res && 'error' in res) add(`${at}.match.paths[${j}]`, res.error);
      else if (res) paramSets.push(new Set([...res.params, ...(res.wildcard ? ['*'] : [])]));
    });
    if (r.rewrite !== undefined) {
      const res = parsePathPattern(r.rewrite);
      // Whether every path captures a param is known only when every path is there.
      const needs = 'error' in res || match.refused.has('paths') ? [] : [...res.params, ...(res.wildcard ? ['*'] : [])];
      for (const need of needs) {
        if (paramSets.some((s) => !s.has(need))) {
          add(`${at}.rewrite`, `"${need === '*' ? '*' : ':' + need}" is not captured by every path of this route`);
        }
      }
      if ('error' in res) add(`${at}.rewrite`, res.error);
    }
    for (const kind of ['headers', 'query'] as const) {
      for (const [k, m] of Object.entries(match.data[kind] ?? {})) {
        if (typeof m === 'object' && 'regex' in m) {
          try {
            new RegExp(m.regex);
          } catch (e) {
            add(`${at}.match.${kind}.${k}.regex`, `invalid regular expression: ${(e as Error).message}`);
          }
        }
      }
    }
  });
  const routes = cfg.routes.map((r) => ({ policies: r.fields.data.policies ?? [] }));
  const ids = knownIds ?? new Set(cfg.consumers.map((c) => c.id));
  errors.push(...identityIssues({ ...cfg, routes }, definitionCheck(ids), knownIds && { ids }));
  const store = cfg.sections.store as GatehouseConfig['store'] | undefined;
  if (store?.type === 'redis' && store.url === undefined) add('store.url', 'store type redis needs a url (redis://host:port)');
  errors.push(...sectionIssues(cfg, routes, defs));
  return errors;
}

/**
 * Each definition's `validateSections` hook, when every section it owns passed its schema (a
 * refused `plans` would read as "no plans" and report errors that are not there).
 */
function sectionIssues(
  cfg: Checkable,
  routes: readonly { policies: readonly { type: string }[] }[],
  defs: readonly PolicyDefinition[],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const d of defs) {
    if (d.validateSections === undefined || d.sections === undefined) continue;
    const keys = Object.keys(d.sections);
    if (keys.some((k) => cfg.refusedSections.has(k))) continue;
    const entries: { at: string; config: Readonly<Record<string, unknown>> }[] = [];
    const collect = (list: readonly { type: string }[], at: string) =>
      list.forEach((p, i) => {
        if (p.type === d.type) entries.push({ at: `${at}[${i}]`, config: p });
      });
    collect(cfg.policies, 'policies');
    routes.forEach((r, i) => collect(r.policies, `routes[${i}].policies`));
    const sections = Object.fromEntries(keys.map((k) => [k, cfg.sections[k]]));
    out.push(...d.validateSections({ sections, consumers: cfg.consumers, entries }));
  }
  return out;
}

/**
 * The checks of a consumer change (an admin consumer edit, runtime/consumer-edit.ts) that involve the
 * rest of a valid config: `anonymous` references against `ids` (the consumer ids after the change),
 * and the section hooks (a consumer's rate-limit plan) for the `changed` consumers, reported at
 * their positions in the new list — the same lines a whole-config validation gives.
 */
export function consumerReferenceIssues(
  config: GatehouseConfig,
  ids: ReadonlySet<string>,
  changed: readonly { at: number; consumer: GatehouseConfig['consumers'][number] }[],
): ConfigIssue[] {
  const check = definitionCheck(ids);
  const out: ConfigIssue[] = [];
  config.policies.forEach((p, i) => out.push(...policyIdentityIssues(p, `policies[${i}]`, ids, check)));
  config.routes.forEach((r, i) =>
    r.policies.forEach((p, j) => out.push(...policyIdentityIssues(p, `routes[${i}].policies[${j}]`, ids, check))),
  );
  if (changed.length === 0) return out;
  const defs = policyDefinitions(config.plugins.filter((u) => loadedPlugin(u) !== undefined));
  const sections = config as unknown as Record<string, unknown>;
  for (const d of defs) {
    if (d.validateSections === undefined || d.sections === undefined) continue;
    const entries: { at: string; config: Readonly<Record<string, unknown>> }[] = [];
    config.policies.forEach((p, i) => p.type === d.type && entries.push({ at: `policies[${i}]`, config: p }));
    config.routes.forEach((r, i) =>
      r.policies.forEach((p, j) => p.type === d.type && entries.push({ at: `routes[${i}].policies[${j}]`, config: p })),
    );
    const own = Object.fromEntries(Object.keys(d.sections).map((k) => [k, sections[k]]));
    for (const issue of d.validateSections({ sections: own, consumers: changed.map((c) => c.consumer), entries })) {
      // The hook numbered the changed consumers from 0: give each its place in the whole list.
      const path = issue.path.replace(/^consumers\[(\d+)\]/, (_m, k: string) => `consumers[${changed[Number(k)]!.at}]`);
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** A policy entry's own definition's `validate` hook (the registry decides; no type is named here). */
function definitionCheck(consumerIds: ReadonlySet<string>): PolicyCheck {
  return (p, at, nested) => policyDefinition(p.type)?.validate?.(p, { consumerIds, nested }, at) ?? [];
}

function targetUrlProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `"${raw}" is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http:// and https:// targets are supported, not ${u.protocol}`;
  if (u.username || u.password) return 'credentials in a target URL are not supported';
  if (u.search || u.hash) return 'a target URL has no query or fragment';
  if (!u.hostname) return 'a target URL needs a host';
  return undefined;
}
