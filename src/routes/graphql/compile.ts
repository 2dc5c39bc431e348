// A GraphQL route's operation compiled once per config: the document parsed with the reference
// `graphql` library, the operation picked, each configured variable checked against the
// operation's own definitions (declared, required ones all given, literals of the declared type)
// and its template compiled, and the root field a `field` result unwraps.
import { Kind, OperationTypeNode, parse, GraphQLError, type DocumentNode, type OperationDefinitionNode, type TypeNode } from 'graphql';
import type { GraphqlRouteConfig } from '../../config/graphql-route-schema.js';
import { parseDuration, parseSize } from '../../config/units.js';
import { compileString, compileValue, type Value } from '../../policies/transform/template.js';
import { GATEWAY_HEADERS } from '../compose/compile.js';
import { coerce, isNonNull, typeText } from './coerce.js';

/** The most tokens the configured document may have (it is written by the operator; a bound all the same). */
const MAX_TOKENS = 50_000;

/**
 * Headers the route sets itself besides the ones every service call has (compose/compile.ts):
 * the body is the route's JSON, and the answer must be JSON to be read.
 */
const ROUTE_HEADERS = new Set(['content-type', 'accept']);

export interface CompiledVariable {
  readonly name: string;
  readonly type: TypeNode;
  /** The type as written ("ID!"), for messages. */
  readonly typeText: string;
  /** Without a value, the request is refused (non-null, no default). */
  readonly required: boolean;
  readonly value: Value;
  /** The configured value as text ("{{query.first}}"), for messages. */
  readonly source: string;
}

export interface CompiledGraphql {
  readonly service: string;
  readonly path: string;
  readonly document: string;
  readonly operationName: string | undefined;
  readonly variables: readonly CompiledVariable[];
  /** Request headers (templates); the client's own pass only when listed. */
  readonly headers: readonly (readonly [string, Value])[];
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly maxRequestBodyBytes: number;
  /** The key of the one root field a `field` result answers with (its alias, or its name). */
  readonly rootKey: string | undefined;
  readonly partial: 'serve' | 'fail';
  readonly onNull: 'not-found' | 'null';
  readonly readsBody: boolean;
}

export interface GraphqlIssue {
  /** Under the route's `graphql` ("variables.first"). */
  path: string;
  message: string;
}

export function compileGraphql(cfg: GraphqlRouteConfig, services: ReadonlySet<string> | undefined): CompiledGraphql | GraphqlIssue[] {
  const issues: GraphqlIssue[] = [];
  const problem = (path: string, message: string) => issues.push({ path, message });
  if (services !== undefined && !services.has(cfg.service))
    problem('service', `service "${cfg.service}" is not defined${services.size ? ` (defined: ${[...services].join(', ')})` : ''}`);

  let readsBody = false;
  const roots = { names: new Set(['body']), used: () => (readsBody = true) };
  const headers: (readonly [string, Value])[] = [];
  for (const [k, text] of Object.entries(cfg.headers)) {
    const lower = k.toLowerCase();
    if (GATEWAY_HEADERS.has(lower) || ROUTE_HEADERS.has(lower)) {
      problem(
        `headers.${k}`,
        'the gateway sets this header itself (framing, connection, Host, forwarding, identity, Content-Type, Accept)',
      );
      continue;
    }
    const v = compileString(text, roots);
    if (typeof v === 'string') problem(`headers.${k}`, v);
    else headers.push([lower, v]);
  }

  const op = pickOperation(cfg, problem);
  const variables: CompiledVariable[] = [];
  let rootKey: string | undefined;
  if (op !== undefined) {
    const declared = new Map((op.variableDefinitions ?? []).map((d) => [d.variable.name.value, d] as const));
    for (const [name, configured] of Object.entries(cfg.variables)) {
      const def = declared.get(name);
      if (def === undefined) {
        const known = [...declared.keys()].map((n) => `$${n}`).join(', ');
        problem(`variables.${name}`, `the operation declares no variable $${name}${known ? ` (it declares ${known})` : ''}`);
        continue;
      }
      const value = compileValue(configured, roots);
      if (typeof value === 'string') {
        problem(`variables.${name}`, value);
        continue;
      }
      const text = typeof configured === 'string' ? configured : JSON.stringify(configured);
      // A literal is checked now: it would be refused on every request.
      if (!JSON.stringify(configured).includes('{{')) {
        const c = coerce(configured, def.type);
        if (!c.ok) problem(`variables.${name}`, `not a value of $${name}'s type ${typeText(def.type)}: ${c.reason}`);
      }
      variables.push({
        name,
        type: def.type,
        typeText: typeText(def.type),
        required: isNonNull(def.type) && def.defaultValue === undefined,
        value,
        source: text.length > 80 ? `${text.slice(0, 77)}…` : text,
      });
    }
    for (const [name, def] of declared)
      if (isNonNull(def.type) && def.defaultValue === undefined && !Object.hasOwn(cfg.variables, name))
        problem('variables', `the operation requires $${name} (${typeText(def.type)}): give it a value`);
    if (cfg.result === 'field') {
      const fields = op.selectionSet.selections;
      const only = fields.length === 1 ? fields[0]! : undefined;
      if (only?.kind !== Kind.FIELD)
        problem(
          'result',
          'a `field` result unwraps the one root field: the operation must select exactly one field (no fragment) at its root',
        );
      else rootKey = (only.alias ?? only.name).value;
    }
  }
  if (issues.length > 0) return issues;
  return {
    service: cfg.service,
    path: cfg.path,
    document: cfg.operation,
    operationName: op!.name?.value,
    variables,
    headers,
    timeoutMs: cfg.timeout === undefined ? 0 : parseDuration(cfg.timeout),
    maxBodyBytes: parseSize(cfg.maxResponseBody),
    maxRequestBodyBytes: parseSize(cfg.maxRequestBody),
    rootKey,
    partial: cfg.partial,
    onNull: cfg.onNull,
    readsBody,
  };
}

/** The operation that runs: the document's only one, or the one `operationName` names. */
function pickOperation(cfg: GraphqlRouteConfig, problem: (path: string, message: string) => void): OperationDefinitionNode | undefined {
  let doc: DocumentNode;
  try {
    doc = parse(cfg.operation, { maxLexicalTokens: MAX_TOKENS });
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err;
    const at = err.locations?.[0];
    problem('operation', `the document does not parse: ${err.message}${at ? ` (line ${at.line}, column ${at.column})` : ''}`);
    return undefined;
  }
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  let op: OperationDefinitionNode | undefined;
  if (cfg.operationName !== undefined) {
    op = ops.find((o) => o.name?.value === cfg.operationName);
    if (op === undefined) {
      const names = ops.map((o) => o.name?.value).filter((n) => n !== undefined);
      problem(
        'operationName',
        `the document has no operation "${cfg.operationName}"${names.length ? ` (it has ${names.join(', ')})` : ''}`,
      );
      return undefined;
    }
  } else if (ops.length !== 1) {
    problem(
      'operation',
      ops.length === 0
        ? 'the document has no operation (only fragments)'
        : `the document has ${ops.length} operations: name the one that runs with operationName`,
    );
    return undefined;
  } else op = ops[0]!;
  if (op.operation === OperationTypeNode.SUBSCRIPTION) {
    problem('operation', 'a subscription has no single answer: a REST route runs a query or a mutation');
    return undefined;
  }
  return op;
}
