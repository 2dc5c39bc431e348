// Admin endpoints for consumers and their credentials. Each change is an edit of the running
// config: only the changed consumer is checked (against the others: duplicate keys, dangling
// `anonymous`, unknown plans — the whole-config checks) and sent to every worker, whose routes are
// not recompiled (Controller.applyConsumers), so an edit stays fast with 100,000 consumers. Like a config
// sent to POST /config, an edit lives in memory: a later reload of the config file replaces it.
// Secrets (API keys, passwords) are never part of an answer.
import type { IncomingMessage } from 'node:http';
import { Consumer, Credential, type ConsumerConfig, type CredentialConfig } from '../config/consumer-schema.js';
import { credentialId, type ConsumerDelta } from '../identity/registry.js';
import { formatPath } from '../validation/validate.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Controller } from '../runtime/instance.js';
import { errorBody } from '../errors.js';
import { redactSecrets } from '../config/redact.js';
import { restoreSecrets } from './sent-config.js';
import { EditQueue, Refusal, type AdminAnswer, type ReadBody } from './edits.js';
import { checkPreconditions, etagOf, page, sortedBy } from './etag.js';
import { changeMeta } from './config-versions.js';

/** A credential as the admin API shows it: its id and type, and for basic/mtls who it names — never a secret. */
export function publicCredential(c: CredentialConfig, consumerId: string, index: number): Record<string, unknown> {
  const id = credentialId(consumerId, c.type, index, c.id);
  switch (c.type) {
    case 'api-key':
      return { id, type: c.type };
    case 'basic':
      return { id, type: c.type, username: c.username };
    case 'mtls':
      return { id, type: c.type, ...(c.subject !== undefined ? { subject: c.subject } : { san: c.san }) };
  }
}

export function publicConsumer(c: ConsumerConfig): Record<string, unknown> {
  return {
    id: c.id,
    ...(c.username !== undefined && { username: c.username }),
    groups: c.groups,
    ...(c.plan !== undefined && { plan: c.plan }),
    // Redacted by key name, as GET /config shows it: metadata is free-form and may hold a token.
    ...(c.metadata !== undefined && { metadata: redactSecrets(c.metadata) }),
    credentials: c.credentials.map((cr, i) => publicCredential(cr, c.id, i)),
  };
}

/** Gives every credential its current id explicitly, so ids stay put when an earlier one is removed. */
function pinIds(c: ConsumerConfig): ConsumerConfig {
  return { ...c, credentials: c.credentials.map((cr, i) => ({ ...cr, id: credentialId(c.id, cr.type, i, cr.id) })) };
}

export class ConsumerEndpoints {
  private readonly edits = new EditQueue();

  constructor(
    private readonly ctl: Controller,
    private readonly readBody: ReadBody,
  ) {}

  /**
   * Handles /consumers[/...] given the decoded segments after `consumers`; returns undefined when
   * they name none of these endpoints.
   */
  handle(req: IncomingMessage, parts: string[]): Promise<AdminAnswer> | undefined {
    if (parts.length > 3 || (parts.length >= 2 && parts[1] !== 'credentials')) return undefined;
    const method = req.method ?? '';
    const [id, , credId] = parts;
    const allowed =
      id === undefined
        ? ['GET', 'POST']
        : parts.length === 1
          ? ['GET', 'PUT', 'DELETE']
          : parts.length === 2
            ? ['GET', 'POST']
            : ['GET', 'PUT', 'DELETE'];
    if (!allowed.includes(method)) return Promise.resolve([405, errorBody('ADMIN_METHOD_NOT_ALLOWED')]);
    return this.edits.answer(
      method,
      () => this.read(req, id, parts.length, credId),
      () => this.edit(req, method, id, parts.length, credId),
    );
  }

  private read(req: IncomingMessage, id: string | undefined, depth: number, credId: string | undefined): AdminAnswer {
    const consumers = this.ctl.config.consumers;
    if (id === undefined) {
      const shown = page(req.url, consumers, byId, sortedBy(consumers, byId));
      if (shown === undefined) return [200, { configVersion: this.ctl.version, consumers: consumers.map(publicConsumer) }];
      return [200, { configVersion: this.ctl.version, consumers: shown.items.map(publicConsumer), next: shown.next }];
    }
    const c = find(consumers, id);
    if (depth === 1) return [200, publicConsumer(c), tagged(c)];
    const pinned = pinIds(c);
    const creds = publicConsumer(c).credentials as Record<string, unknown>[];
    if (depth === 2) return [200, { credentials: creds }];
    const at = creds.findIndex((x) => x.id === credId);
    if (at === -1) throw new Refusal('ADMIN_RESOURCE_NOT_FOUND', `consumer "${id}" has no credential "${credId}"`);
    return [200, creds[at], tagged(pinned.credentials[at])];
  }

  private async edit(
    req: IncomingMessage,
    method: string,
    id: string | undefined,
    depth: number,
    credId: string | undefined,
  ): Promise<AdminAnswer> {
    const body = method === 'DELETE' ? undefined : await this.readBody(req);
    let status = 200;
    let answer: () => unknown = () => undefined;
    let etag: string | undefined;
    // The change is made inside the apply queue, on the newest config: an edit queued behind a
    // reload must not be built on the config the reload replaces (and undo it). Only the changed
    // consumer travels: the others, and the routes, are not checked or compiled again.
    const make = (current: GatehouseConfig): ConsumerDelta => {
      const consumers = current.consumers;
      if (id === undefined) {
        const c = parse(Consumer, body, 'consumer');
        if (consumers.some((x) => x.id === c.id))
          throw new Refusal('ADMIN_CONFLICT', `consumer "${c.id}" exists; use PUT /consumers/${c.id} to replace it`);
        status = 201;
        answer = () => publicConsumer(c);
        etag = etagOf(c);
        return { upsert: [c], remove: [] };
      }
      const existing = consumers.find((x) => x.id === id);
      if (depth === 1) {
        checkPreconditions(req, existing, `consumer "${id}"`);
        if (method === 'DELETE') {
          if (existing === undefined) throw notFound(id);
          answer = () => ({ deleted: id });
          return { upsert: [], remove: [id] };
        }
        const doc = isRecord(body) ? { id, ...keepRedacted(body, existing) } : body;
        const c = parse(Consumer, doc, 'consumer');
        if (c.id !== id) throw new Refusal('CONFIG_INVALID', `the body names consumer "${c.id}", the path "${id}"`);
        if (existing === undefined) status = 201;
        answer = () => publicConsumer(c);
        etag = etagOf(c);
        return { upsert: [c], remove: [] };
      }
      if (existing === undefined) throw notFound(id);
      const c = pinIds(existing);
      const creds = [...c.credentials];
      let shown: unknown;
      if (depth === 2) {
        const cred = parse(Credential, body, 'credential');
        // The default id of the next place, or a later one: ids were pinned, so after a deletion
        // the next place's default may be the id a remaining credential keeps.
        for (let n = creds.length; cred.id === undefined; n++) {
          const next = credentialId(id, cred.type, n, undefined);
          if (!creds.some((x) => x.id === next)) cred.id = next;
        }
        if (creds.some((x) => x.id === cred.id))
          throw new Refusal('ADMIN_CONFLICT', `consumer "${id}" already has a credential "${cred.id}"`);
        creds.push(cred);
        status = 201;
        shown = publicCredential(cred, id, creds.length - 1);
        etag = etagOf(cred);
      } else {
        const ci = creds.findIndex((x) => x.id === credId);
        checkPreconditions(req, creds[ci], `credential "${credId}"`);
        if (method === 'DELETE') {
          if (ci === -1) throw new Refusal('ADMIN_RESOURCE_NOT_FOUND', `consumer "${id}" has no credential "${credId}"`);
          creds.splice(ci, 1);
          shown = { deleted: credId };
        } else {
          const cred = parse(Credential, isRecord(body) ? { ...body, id: credId } : body, 'credential');
          if (ci === -1) {
            creds.push(cred);
            status = 201;
          } else creds[ci] = cred;
          shown = publicCredential(cred, id, ci === -1 ? creds.length - 1 : ci);
          etag = etagOf(cred);
        }
      }
      answer = () => shown;
      return { upsert: [{ ...c, credentials: creds }], remove: [] };
    };
    const outcome = await this.ctl.applyConsumers(make, 'admin-api:consumers', changeMeta(req));
    if (!outcome.ok) throw new Refusal(outcome.code, undefined, outcome.errors);
    const out = answer();
    return [status, isRecord(out) ? { ...out, configVersion: outcome.version } : out, etag === undefined ? undefined : { etag }];
  }
}

const byId = (c: ConsumerConfig) => c.id;

/**
 * A consumer sent back as GET showed it (the console's edit form): a secret given as the literal
 * "[redacted]" (a credential's key or password, a metadata value shown redacted) keeps the value it
 * has now, in the credential with the same id (sent-config.ts). One with nothing to keep is refused:
 * "[redacted]" must never become a key.
 */
function keepRedacted(body: Record<string, unknown>, existing: ConsumerConfig | undefined): Record<string, unknown> {
  const { doc, issues } = restoreSecrets(body, existing ? pinIds(existing) : undefined);
  if (issues.length > 0) throw new Refusal('CONFIG_INVALID', 'the body is not a valid consumer', issues);
  return doc as Record<string, unknown>;
}

function tagged(resource: unknown): Record<string, string> | undefined {
  const etag = etagOf(resource);
  return etag === undefined ? undefined : { etag };
}

function parse<T>(
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  body: unknown,
  what: string,
): T {
  // Taken literally, as every admin body is: `${VAR}` is expanded only in config files (server.ts).
  const r = schema.safeParse(body);
  if (!r.success)
    throw new Refusal(
      'CONFIG_INVALID',
      `the body is not a valid ${what}`,
      r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  return r.data;
}

function find(consumers: readonly ConsumerConfig[], id: string): ConsumerConfig {
  const c = consumers.find((x) => x.id === id);
  if (!c) throw notFound(id);
  return c;
}

function notFound(id: string): Refusal {
  return new Refusal('ADMIN_RESOURCE_NOT_FOUND', `no consumer "${id}"`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
