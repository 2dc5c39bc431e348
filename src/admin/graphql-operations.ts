// Admin endpoints for registered GraphQL operations (the allow lists of `graphql` policies with
// `persisted.mode: allowList`, and hashes an APQ route knows from the start):
//   GET    /graphql/operations       every registered operation: id, name, size
//   GET    /graphql/operations/:id   one, with its document
//   POST   /graphql/operations       { "body", "name"?, "id"? } — the id is the SHA-256 of the body
//   DELETE /graphql/operations/:id
// The operations live in the config's top-level `graphqlOperations` section (owned by the graphql
// policy type): each change is an edit of the running config, applied through the same validate →
// compile → swap path as POST /config (and /consumers), so every worker runs the new list. Like
// any admin edit it lives in memory: a reload of the config file replaces it (write the operations
// in the file, or in a manifest, to keep them).
import type { IncomingMessage } from 'node:http';
import { validateConfig, formatPath } from '../validation/validate.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { Controller } from '../runtime/instance.js';
import { errorBody } from '../errors.js';
import { section } from '../policies/types.js';
import {
  OPERATIONS_SECTION,
  RegisteredOperation,
  SHA256_HEX,
  sha256Hex,
  type RegisteredOperationConfig,
} from '../policies/graphql/persisted-schema.js';
import { EditQueue, Refusal, type AdminAnswer, type ReadBody } from './edits.js';

type Stored = RegisteredOperationConfig & { id: string };

function listed(config: GatehouseConfig): Stored[] {
  const ops = section<RegisteredOperationConfig[] | undefined>(config, OPERATIONS_SECTION) ?? [];
  return ops.map((op) => ({ ...op, id: op.id ?? sha256Hex(op.body) }));
}

function summary(op: Stored): Record<string, unknown> {
  return { id: op.id, ...(op.name !== undefined && { name: op.name }), bytes: Buffer.byteLength(op.body, 'utf8') };
}

export class GraphQLOperationEndpoints {
  private readonly edits = new EditQueue();

  constructor(
    private readonly ctl: Controller,
    private readonly readBody: ReadBody,
  ) {}

  /** Handles /graphql/operations[/:id] given the decoded segments after `graphql`; undefined for other paths. */
  handle(req: IncomingMessage, parts: string[]): Promise<AdminAnswer> | undefined {
    if (parts[0] !== 'operations' || parts.length > 2) return undefined;
    const id = parts[1];
    const method = req.method ?? '';
    const allowed = id === undefined ? ['GET', 'POST'] : ['GET', 'DELETE'];
    if (!allowed.includes(method)) return Promise.resolve([405, errorBody('ADMIN_METHOD_NOT_ALLOWED')]);
    return this.edits.answer(
      method,
      () => this.read(id),
      () => (method === 'POST' ? this.add(req) : this.remove(id!)),
    );
  }

  private read(id: string | undefined): AdminAnswer {
    const ops = listed(this.ctl.config);
    if (id === undefined) return [200, { configVersion: this.ctl.version, operations: ops.map(summary) }];
    const op = ops.find((o) => o.id === id);
    if (op === undefined) throw notFound(id);
    return [200, { ...summary(op), body: op.body }];
  }

  private async add(req: IncomingMessage): Promise<AdminAnswer> {
    const body = await this.readBody(req);
    // Taken literally, as every admin body is: `${VAR}` is expanded only in config files.
    const parsed = RegisteredOperation.safeParse(body);
    if (!parsed.success)
      throw new Refusal(
        'CONFIG_INVALID',
        'the body is not a valid operation: { "body": "<document>", "name"?: "...", "id"?: "<sha256 of body>" }',
        parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
      );
    const op: Stored = { ...parsed.data, id: parsed.data.id ?? sha256Hex(parsed.data.body) };
    const existing = listed(this.ctl.config).find((o) => o.id === op.id);
    // Registering a document again (a deploy that registers all of its operations) changes nothing,
    // and costs no reload.
    if (existing !== undefined) return [200, { ...summary(existing), created: false, configVersion: this.ctl.version }];
    const state = { created: true };
    const make = (current: GatehouseConfig) => {
      const ops = listed(current);
      // Registered meanwhile by an edit queued before this one.
      if (ops.some((o) => o.id === op.id)) {
        state.created = false;
        return { ok: true as const, config: current };
      }
      return validateConfig({ ...current, [OPERATIONS_SECTION]: [...ops, op] });
    };
    const outcome = await this.ctl.applyEdit(make, 'admin-api:graphql-operations');
    if (!outcome.ok) throw new Refusal(outcome.code, undefined, outcome.errors);
    const shown = state.created ? summary(op) : summary(listed(this.ctl.config).find((o) => o.id === op.id) ?? op);
    return [state.created ? 201 : 200, { ...shown, created: state.created, configVersion: outcome.version }];
  }

  private async remove(id: string): Promise<AdminAnswer> {
    const make = (current: GatehouseConfig) => {
      const ops = listed(current);
      const at = ops.findIndex((o) => o.id === id);
      if (at === -1) throw notFound(id);
      ops.splice(at, 1);
      return validateConfig({ ...current, [OPERATIONS_SECTION]: ops });
    };
    const outcome = await this.ctl.applyEdit(make, 'admin-api:graphql-operations');
    if (!outcome.ok) throw new Refusal(outcome.code, undefined, outcome.errors);
    return [200, { deleted: id, configVersion: outcome.version }];
  }
}

function notFound(id: string): Refusal {
  return new Refusal(
    'ADMIN_RESOURCE_NOT_FOUND',
    SHA256_HEX.test(id) ? `no operation "${id}" is registered` : 'an operation id is the SHA-256 of its body (64 lower-case hex digits)',
  );
}
