// The HTTP bindings of the configured services: from each method's (google.api.http) option and
// from config rules in Google's service-config shape (a config rule replaces the annotation of the
// method its selector names). Methods with neither get no binding: they are not reachable over
// HTTP. Everything is checked here, once, so that requests only ever meet valid bindings.
import protobuf from 'protobufjs';
import { HTTP_OPTION, clean } from './protos.js';
import { comparePrecedence, matchTemplate, parseTemplate, type PathTemplate, type Vars } from './path-template.js';

/** A rule as written in the gateway config (camelCase keys, as Google's YAML service config). */
export interface ConfigHttpRule {
  selector: string;
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  custom?: { kind: string; path: string };
  body?: string;
  responseBody?: string;
  additionalBindings?: Omit<ConfigHttpRule, 'selector' | 'additionalBindings'>[];
}

export interface Binding {
  /** "acme.users.v1.Users.GetUser" */
  selector: string;
  /** The gRPC request path: "/acme.users.v1.Users/GetUser". */
  grpcPath: string;
  method: protobuf.Method;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  serverStreaming: boolean;
  /** Upper case: GET, POST, ... or a custom kind. */
  httpMethod: string;
  template: PathTemplate;
  /** undefined: no body; "*": the whole request message; else a top-level request field. */
  body: string | undefined;
  /** A top-level response field sent as the reply body instead of the whole message. */
  responseBody: string | undefined;
  from: 'annotation' | 'config';
}

export type MatchResult =
  | { kind: 'match'; binding: Binding; vars: Vars }
  /** The path matches bindings, none for this method: answer 405 with `allow`. */
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'none' };

export class BindingTable {
  /** In precedence order. */
  readonly bindings: readonly Binding[];

  constructor(bindings: Binding[]) {
    this.bindings = [...bindings].sort((a, b) => comparePrecedence(a.template, b.template));
  }

  match(httpMethod: string, path: string): MatchResult {
    const m = httpMethod.toUpperCase();
    const allow = new Set<string>();
    for (const b of this.bindings) {
      const vars = matchTemplate(b.template, path);
      if (vars === undefined) continue;
      if (b.httpMethod === m) return { kind: 'match', binding: b, vars };
      allow.add(b.httpMethod);
    }
    return allow.size > 0 ? { kind: 'method-not-allowed', allow: [...allow] } : { kind: 'none' };
  }
}

export type CompileResult = { ok: true; table: BindingTable } | { ok: false; errors: string[] };

/** A rule in the one shape both sources are normalized to (snake_case, as in http.proto). */
interface RawRule {
  get?: unknown;
  put?: unknown;
  post?: unknown;
  delete?: unknown;
  patch?: unknown;
  custom?: { kind?: unknown; path?: unknown };
  body?: unknown;
  response_body?: unknown;
  additional_bindings?: RawRule | RawRule[];
  selector?: unknown;
}

const VERBS = ['get', 'put', 'post', 'delete', 'patch'] as const;

export function compileBindings(root: protobuf.Root, services: string[], rules: ConfigHttpRule[] = []): CompileResult {
  const errors: string[] = [];
  const svcs: protobuf.Service[] = [];
  for (const name of services) {
    const s = root.lookup(name.replace(/^\./, ''));
    if (s instanceof protobuf.Service) svcs.push(s);
    else errors.push(`service ${name} is not defined by the protos (they define: ${allServices(root).join(', ') || 'no service'})`);
  }
  const methods = new Map<string, protobuf.Method>();
  for (const s of svcs) for (const m of s.methodsArray) methods.set(clean(m.fullName), m);

  const byMethod = new Map<string, { rule: RawRule; from: Binding['from'] }>();
  for (const [sel, m] of methods) {
    const opt = m.parsedOptions?.find((o) => HTTP_OPTION in o)?.[HTTP_OPTION] as RawRule | undefined;
    if (opt !== undefined) byMethod.set(sel, { rule: opt, from: 'annotation' });
  }
  const configured = new Set<string>();
  for (const r of rules) {
    if (!methods.has(r.selector)) {
      errors.push(`rule selector ${r.selector}: no such method in ${services.join(', ')}`);
      continue;
    }
    if (configured.has(r.selector)) errors.push(`rule selector ${r.selector}: given twice`);
    configured.add(r.selector);
    byMethod.set(r.selector, { rule: fromConfig(r), from: 'config' });
  }

  const bindings: Binding[] = [];
  for (const [sel, { rule, from }] of byMethod) {
    const m = methods.get(sel)!;
    const where = `${sel} (${from === 'config' ? 'config rule' : 'google.api.http option'})`;
    if (m.requestStream) {
      errors.push(`${where}: client-streaming methods cannot be transcoded`);
      continue;
    }
    const extra = rule.additional_bindings === undefined ? [] : ([] as RawRule[]).concat(rule.additional_bindings);
    for (const [k, r] of [rule, ...extra].entries()) {
      const at = k === 0 ? where : `${where} additional binding ${k}`;
      if (k > 0 && r.additional_bindings !== undefined) {
        errors.push(`${at}: additional bindings cannot have their own additional bindings`);
        continue;
      }
      const b = binding(m, sel, r, from, at, errors);
      if (b) bindings.push(b);
    }
  }

  const seen = new Map<string, string>();
  for (const b of bindings) {
    const key = `${b.httpMethod} ${b.template.shape}`;
    const prev = seen.get(key);
    if (prev !== undefined) errors.push(`${b.httpMethod} ${b.template.source} of ${b.selector} conflicts with the same binding of ${prev}`);
    else seen.set(key, b.selector);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, table: new BindingTable(bindings) };
}

function fromConfig(r: Partial<ConfigHttpRule>): RawRule {
  const { responseBody, additionalBindings, ...rest } = r;
  const out: RawRule = { ...rest };
  if (responseBody !== undefined) out.response_body = responseBody;
  // Recursive so that a nested additionalBindings is seen (and refused) like a nested annotation.
  if (additionalBindings !== undefined) out.additional_bindings = additionalBindings.map(fromConfig);
  return out;
}

function binding(m: protobuf.Method, sel: string, r: RawRule, from: Binding['from'], at: string, errors: string[]): Binding | undefined {
  const patterns: [string, unknown][] = VERBS.filter((v) => r[v] !== undefined).map((v) => [v.toUpperCase(), r[v]]);
  if (r.custom !== undefined) patterns.push([(str(r.custom.kind) ?? '').toUpperCase(), r.custom.path]);
  if (patterns.length !== 1) {
    errors.push(`${at}: needs exactly one of get, put, post, delete, patch, custom (has ${patterns.length})`);
    return undefined;
  }
  const [httpMethod, path] = patterns[0]!;
  if (!/^[A-Z][A-Z0-9_-]*$/.test(httpMethod)) {
    errors.push(`${at}: custom kind ${JSON.stringify(httpMethod)} is not an HTTP method`);
    return undefined;
  }
  if (typeof path !== 'string') {
    errors.push(`${at}: the path must be a string`);
    return undefined;
  }
  const parsed = parseTemplate(path);
  if (!parsed.ok) {
    errors.push(`${at}: ${parsed.message}`);
    return undefined;
  }
  const requestType = m.resolvedRequestType!;
  const responseType = m.resolvedResponseType!;
  const before = errors.length;
  for (const v of parsed.template.variables) {
    const problem = pathFieldProblem(requestType, v.field);
    if (problem) errors.push(`${at}: path variable {${v.field.join('.')}}: ${problem}`);
  }
  const body = str(r.body) || undefined;
  if (body !== undefined) {
    if (httpMethod === 'GET' || httpMethod === 'DELETE') errors.push(`${at}: ${httpMethod} cannot have a body`);
    else if (body !== '*' && !fieldNamed(requestType, body)) errors.push(`${at}: body ${JSON.stringify(body)}: ${noField(requestType)}`);
  }
  const responseBody = str(r.response_body) || undefined;
  if (responseBody !== undefined && !fieldNamed(responseType, responseBody))
    errors.push(`${at}: response_body ${JSON.stringify(responseBody)}: ${noField(responseType)}`);
  if (errors.length > before) return undefined;
  return {
    selector: sel,
    grpcPath: `/${clean(m.parent!.fullName)}/${m.name}`,
    method: m,
    requestType,
    responseType,
    serverStreaming: Boolean(m.responseStream),
    httpMethod,
    template: parsed.template,
    body,
    responseBody,
    from,
  };
}

/**
 * The field with this proto name. `Type.fields` is a plain object: "constructor" or "toString"
 * must not find Object.prototype's members.
 */
export function fieldNamed(t: protobuf.Type, name: string): protobuf.Field | undefined {
  return Object.hasOwn(t.fields, name) ? t.fields[name] : undefined;
}

/** Option values are untyped (parsed text or config): only strings count. */
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function noField(t: protobuf.Type): string {
  return `${clean(t.fullName)} has no top-level field named so (fields: ${Object.keys(t.fields).join(', ')})`;
}

/** Why a path variable cannot name this field path, or undefined if it can. */
function pathFieldProblem(type: protobuf.Type, path: string[]): string | undefined {
  let t = type;
  for (const [k, name] of path.entries()) {
    const f = fieldNamed(t, name);
    if (!f) return `${clean(t.fullName)} has no field ${name}`;
    const last = k === path.length - 1;
    if (f.map) return `${name} is a map`;
    if (!last) {
      if (f.repeated || !(f.resolvedType instanceof protobuf.Type)) return `${name} is not a singular message field`;
      t = f.resolvedType;
    } else if (f.resolvedType instanceof protobuf.Type && !scalarLikeWkt(f.resolvedType)) {
      return `${name} is a message, not a scalar`;
    }
  }
  return undefined;
}

/** Well-known message types whose JSON form is a string or number: they read from a URL text. */
const SCALAR_WKT = new Set(
  [
    'Timestamp',
    'Duration',
    'FieldMask',
    'DoubleValue',
    'FloatValue',
    'Int64Value',
    'UInt64Value',
    'Int32Value',
    'UInt32Value',
    'BoolValue',
    'StringValue',
    'BytesValue',
  ].map((n) => '.google.protobuf.' + n),
);
export function scalarLikeWkt(t: protobuf.Type): boolean {
  return SCALAR_WKT.has(t.fullName);
}

function allServices(ns: protobuf.NamespaceBase, out: string[] = []): string[] {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Service) out.push(clean(o.fullName));
    else if (o instanceof protobuf.Namespace) allServices(o, out);
  }
  return out;
}
