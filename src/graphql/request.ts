// GraphQL over HTTP: the request's parameters (query, operationName, variables, extensions), read
// from a POST body (application/json, or application/graphql with the document as the body) or
// from a GET's query string. Strict: anything else is a `GW_GRAPHQL_BAD_REQUEST` with the reason.
// https://graphql.github.io/graphql-over-http/draft/
import { firstDuplicateKey } from '../policies/request-validator/duplicate-keys.js';

export interface GraphQLParams {
  /** The document; absent when a persisted query hash stands for it. */
  query?: string | undefined;
  operationName?: string | undefined;
  variables?: Record<string, unknown> | undefined;
  /** `extensions.persistedQuery` carries an automatic persisted query's hash. */
  extensions?: Record<string, unknown> | undefined;
}

export type ParamsResult =
  | {
      ok: true;
      params: GraphQLParams;
      /** The body held members besides the four parameters: forward it written again, without them. */
      extraMembers?: true;
    }
  | { ok: false; message: string };

const PARAMETERS = new Set(['query', 'operationName', 'variables', 'extensions']);

/** The largest nesting a `variables` value may have (deeper JSON is refused, not walked). */
const MAX_NESTING = 64;

export function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** A POST's parameters. */
export function paramsFromBody(body: Buffer, contentType: string): ParamsResult {
  const type = mediaType(contentType);
  if (type === 'application/graphql') return { ok: true, params: { query: body.toString('utf8') } };
  if (type !== 'application/json' && type !== 'application/graphql+json')
    return { ok: false, message: `a GraphQL POST is application/json (this one is ${type === '' ? 'without a Content-Type' : type})` };
  // Read as UTF-8 and forwarded with its own Content-Type: another charset would be read one way here and another there.
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    return { ok: false, message: `the body's charset is ${charset}, not utf-8` };
  const text = body.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, message: 'the body is not JSON' };
  }
  // JSON.parse keeps a name's last value; a service whose parser keeps the first would run what was not checked.
  const twice = firstDuplicateKey(text);
  if (twice !== undefined) return { ok: false, message: `the body gives the member at ${JSON.stringify(twice)} twice` };
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return {
      ok: false,
      message: Array.isArray(doc) ? 'batched operations (a JSON list) are not accepted' : 'the body is not a JSON object',
    };
  const read = fromObject(doc as Record<string, unknown>, false);
  // Members besides the four (`id`, `documentId`…) mean something to some servers (persisted
  // documents) and nothing to the checks: they are not forwarded.
  if (read.ok && Object.keys(doc).some((k) => !PARAMETERS.has(k))) read.extraMembers = true;
  return read;
}

/** A GET's parameters, from its raw query string (without "?"). */
export function paramsFromQuery(rawQuery: string): ParamsResult {
  const q = new URLSearchParams(rawQuery);
  const raw: Record<string, unknown> = {};
  for (const key of ['query', 'operationName', 'variables', 'extensions']) {
    const all = q.getAll(key);
    if (all.length > 1) return { ok: false, message: `the parameter ${key} is given ${all.length} times` };
    if (all.length === 1) raw[key] = all[0];
  }
  for (const key of ['variables', 'extensions']) {
    if (raw[key] === undefined) continue;
    const text = raw[key] as string;
    try {
      raw[key] = JSON.parse(text);
    } catch {
      return { ok: false, message: `the parameter ${key} is not JSON` };
    }
    const twice = firstDuplicateKey(text);
    if (twice !== undefined) return { ok: false, message: `the parameter ${key} gives the member at ${JSON.stringify(twice)} twice` };
  }
  return fromObject(raw, true);
}

function fromObject(o: Record<string, unknown>, fromQuery: boolean): ParamsResult {
  const where = fromQuery ? 'parameter' : 'field';
  const { query, operationName, variables, extensions } = o;
  if (query !== undefined && query !== null && typeof query !== 'string')
    return { ok: false, message: `the ${where} query is not a string` };
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return { ok: false, message: `the ${where} operationName is not a string` };
  if (variables !== undefined && variables !== null && !isObject(variables))
    return { ok: false, message: `the ${where} variables is not an object` };
  if (extensions !== undefined && extensions !== null && !isObject(extensions))
    return { ok: false, message: `the ${where} extensions is not an object` };
  if (tooDeep(variables, 0)) return { ok: false, message: `variables are nested deeper than ${MAX_NESTING} levels` };
  return {
    ok: true,
    params: {
      query: typeof query === 'string' ? query : undefined,
      operationName: typeof operationName === 'string' && operationName !== '' ? operationName : undefined,
      variables: isObject(variables) ? variables : undefined,
      extensions: isObject(extensions) ? extensions : undefined,
    },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function tooDeep(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (depth >= MAX_NESTING) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (tooDeep(x, depth + 1)) return true;
  return false;
}

/** The body that carries `params` to the service as application/json. */
export function paramsBody(params: GraphQLParams): Buffer {
  const out: Record<string, unknown> = { query: params.query };
  if (params.operationName !== undefined) out.operationName = params.operationName;
  if (params.variables !== undefined) out.variables = params.variables;
  if (params.extensions !== undefined) out.extensions = params.extensions;
  return Buffer.from(JSON.stringify(out));
}
