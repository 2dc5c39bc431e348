// Builds the gRPC request message of a binding from the HTTP request: the JSON body (all of the
// message with body "*", one field with body "field"), then query parameters for fields neither
// the path nor the body binds, then the path variables, which win over the body: the path is what
// the route and its policies matched, so the body must not be able to retarget the call.
//
// Everything goes through one JSON object handed to protojson.fromJson, which does the proto3 JSON
// mapping (int64 strings, enum names, base64 bytes, well-known types, both field spellings). Path
// and query values are URL text; they are turned into that field's JSON form first (bools, enum
// numbers) and checked one by one so that a bad value is reported with its parameter's name.
import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { clean } from './protos.js';
import { fieldNamed, scalarLikeWkt, type Binding } from './http-rules.js';
import type { Vars } from './path-template.js';
import { jsonTextProblem } from './json-text.js';

export interface RequestOptions {
  /** Unknown JSON fields and query parameters: refused (400) or dropped. */
  unknownFields: 'reject' | 'ignore';
}

export type BuildResult = { ok: true; bytes: Uint8Array } | { ok: false; status: 400 | 415; message: string };

/**
 * JSON bodies nested deeper than this are refused before protojson sees them. (Inside a Struct,
 * protojson's own limit of 100 message levels bites first: each JSON level there is two messages,
 * Value and Struct/ListValue, as it would be for the service's decoder.)
 */
export const MAX_JSON_DEPTH = 64;

type JsonObject = Record<string, unknown>;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function buildRequest(
  binding: Binding,
  vars: Vars,
  query: string,
  body: Uint8Array,
  contentType: string | undefined,
  opts: RequestOptions,
): BuildResult {
  try {
    return build(binding, vars, query, body, contentType, opts);
  } catch (err) {
    // protojson and encode report bad values by throwing: every such throw is a client error.
    return bad(clean((err as Error).message));
  }
}

function bad(message: string, status: 400 | 415 = 400): BuildResult {
  return { ok: false, status, message };
}

function build(
  binding: Binding,
  vars: Vars,
  query: string,
  body: Uint8Array,
  contentType: string | undefined,
  opts: RequestOptions,
): BuildResult {
  const type = binding.requestType;
  const ignoreUnknownFields = opts.unknownFields === 'ignore';
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return bad('the request body is not UTF-8');
  }
  let msg: JsonObject = {};
  if (binding.body === undefined) {
    if (text.trim() !== '') return bad(`${binding.httpMethod} ${binding.template.source} takes no request body`);
  } else if (text.trim() !== '') {
    if (contentType !== undefined && !isJson(contentType)) return bad(`the request body must be JSON, not ${contentType}`, 415);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return bad(`the request body is not JSON: ${(err as Error).message}`);
    }
    if (jsonDepthOver(parsed, MAX_JSON_DEPTH)) return bad(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    const problem = jsonTextProblem(text);
    if (problem) return bad(problem);
    if (binding.body === '*') {
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        return bad(`the request body must be a JSON object (${clean(type.fullName)})`);
      msg = parsed as JsonObject;
    } else {
      msg = { [binding.body]: parsed };
    }
  }

  // Query parameters: only with a body that is not "*" (then every field not in the path is in the body).
  const pathFields = [...vars.keys()];
  /** Field path → the query parameter that set it. */
  const setBy = new Map<string, string>();
  for (const [key, values] of groupQuery(query)) {
    const target = binding.body === '*' ? undefined : resolveField(type, key);
    const covered = target && (binding.body === target.names[0] || pathFields.some((p) => overlaps(p, target.names)));
    if (!target || covered) {
      if (ignoreUnknownFields) continue;
      return bad(`unknown query parameter ${JSON.stringify(key)}${covered ? ' (that field is bound by the path or the body)' : ''}`);
    }
    // Two spellings (page_size, pageSize) of one field: refused like a repetition, not last-one-wins.
    const dotted = target.names.join('.');
    const other = setBy.get(dotted);
    if (other !== undefined) return bad(`query parameter ${key} sets ${dotted}, which ${other} sets too`);
    setBy.set(dotted, key);
    const leaf = target.field;
    if (!leaf.repeated && values.length > 1) return bad(`query parameter ${key} is given ${values.length} times for a non-repeated field`);
    const problem = leafProblem(leaf);
    if (problem) return bad(`query parameter ${key}: ${problem}`);
    const json = leaf.repeated ? values.map((v) => urlValue(leaf, v)) : urlValue(leaf, values[0]!);
    const err = checkValue(target.parent, leaf, json, ignoreUnknownFields);
    if (err) return bad(`query parameter ${key}: ${err}`);
    setAt(msg, type, target.names, json);
  }

  for (const [path, value] of vars) {
    const names = path.split('.');
    const target = resolveField(type, path)!; // checked when the binding was compiled
    const json = target.field.repeated ? [urlValue(target.field, value)] : urlValue(target.field, value);
    const err = checkValue(target.parent, target.field, json, false);
    if (err) return bad(`path variable {${path}}: ${err}`);
    setAt(msg, type, names, json);
  }

  const message = protojson.fromJson(type, msg, { ignoreUnknownFields });
  return { ok: true, bytes: type.encode(message).finish() };
}

function isJson(contentType: string): boolean {
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  return mime === 'application/json' || /^application\/[^/]+\+json$/.test(mime);
}

/** True when the value has more than `max` nested objects/arrays (iterative: no stack overflow). */
export function jsonDepthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) stack.push([x, d + 1]);
  }
  return false;
}

function groupQuery(query: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const q = query.startsWith('?') ? query.slice(1) : query;
  if (q === '') return out;
  for (const [k, v] of new URLSearchParams(q)) {
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

interface FieldRef {
  /** The proto names along the path. */
  names: string[];
  parent: protobuf.Type;
  field: protobuf.Field;
}

/** "filter.maxPages" or "filter.max_pages" → the field, through singular message fields. */
function resolveField(type: protobuf.Type, dotted: string): FieldRef | undefined {
  const names: string[] = [];
  let t = type;
  const parts = dotted.split('.');
  for (const [k, part] of parts.entries()) {
    const f = fieldNamed(t, part) ?? t.fieldsArray.find((x) => x.jsonName === part);
    if (!f || f.map) return undefined;
    names.push(f.name);
    if (k === parts.length - 1) return { names, parent: t, field: f };
    if (f.repeated || !(f.resolvedType instanceof protobuf.Type) || scalarLikeWkt(f.resolvedType)) return undefined;
    t = f.resolvedType;
  }
  return undefined;
}

/** Whether a path variable's field path and a query field path name overlapping fields. */
function overlaps(pathVar: string, names: string[]): boolean {
  const q = names.join('.');
  return pathVar === q || pathVar.startsWith(q + '.') || q.startsWith(pathVar + '.');
}

function leafProblem(f: protobuf.Field): string | undefined {
  if (f.resolvedType instanceof protobuf.Type && !scalarLikeWkt(f.resolvedType))
    return 'names a message field, which a query parameter cannot set';
  return undefined;
}

/** URL text → the JSON value protojson expects for this field. */
function urlValue(f: protobuf.Field, text: string): unknown {
  const t = f.resolvedType;
  if (t instanceof protobuf.Enum) return /^-?[0-9]+$/.test(text) ? Number(text) : text;
  const scalar = t instanceof protobuf.Type ? (t.fields.value?.type ?? '') : f.type; // wrappers hold "value"
  if (scalar === 'bool') {
    if (text === 'true') return true;
    if (text === 'false') return false;
  }
  return text;
}

/** Lets protojson check one value alone, so that its error names the parameter. */
function checkValue(parent: protobuf.Type, f: protobuf.Field, json: unknown, ignoreUnknownFields: boolean): string | undefined {
  try {
    protojson.fromJson(parent, { [f.name]: json }, { ignoreUnknownFields });
    return undefined;
  } catch (err) {
    return clean((err as Error).message);
  }
}

/** Sets msg[a][b][c] = value, replacing whichever spelling (proto or lowerCamel) the body used. */
function setAt(msg: JsonObject, type: protobuf.Type, names: string[], value: unknown): void {
  let obj = msg;
  let t = type;
  for (const [k, name] of names.entries()) {
    const f = t.fields[name]!;
    const existingKey = [f.name, f.jsonName].find((n) => Object.hasOwn(obj, n));
    let existing = existingKey === undefined ? undefined : obj[existingKey];
    for (const n of [f.name, f.jsonName]) Reflect.deleteProperty(obj, n);
    if (k === names.length - 1) {
      obj[f.name] = value;
      return;
    }
    if (existing === null || typeof existing !== 'object' || Array.isArray(existing)) existing = {};
    obj[f.name] = existing;
    obj = existing as JsonObject;
    t = f.resolvedType as protobuf.Type;
  }
}
