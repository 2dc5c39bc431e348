// The route's answer from the GraphQL service's: its data (or its one root field) as JSON, 200.
// A GraphQL answer is { data, errors }: errors without data fail the route (502
// GW_GRAPHQL_OPERATION_FAILED, their messages in the details); errors beside data are a partial
// answer, served with Gatehouse-Partial: true (as a composite's) unless the route says `fail`.
// Anything that is not a GraphQL answer is the service's fault (502 GW_UPSTREAM_ERROR), and a
// service that could not answer is answered as a proxied request would be. A `field` result that
// is null is nothing found (404), or a failure when errors come with it.
import type { RouteAnswer, ServiceResult } from '../types.js';
import { isJsonType } from '../../policies/transform/json-text.js';
import { MAX_JSON_DEPTH, nestedDeeper } from '../compose/guards.js';
import type { CompiledGraphql } from './compile.js';

/** The most service errors an answer lists, and the longest message kept of each. */
const MAX_ERRORS = 10;
const MAX_MESSAGE = 300;

export function graphqlAnswer(c: CompiledGraphql, r: ServiceResult): RouteAnswer {
  if (!r.ok) {
    const f = r.failure;
    const service = { service: c.service };
    if (f.kind === 'timeout') return { error: 'GW_UPSTREAM_TIMEOUT', details: service };
    if (f.kind === 'too-large')
      return { error: 'GW_UPSTREAM_ERROR', message: 'The GraphQL service’s answer is larger than this route reads.', details: service };
    if (f.kind === 'cancelled') return { error: 'GW_UPSTREAM_ERROR', message: 'The client went away.' };
    return { error: f.code, details: service };
  }
  const type = headerOf(r.headers, 'content-type') ?? '';
  const coding = headerOf(r.headers, 'content-encoding');
  const notGraphql = (why: string): RouteAnswer => ({
    error: 'GW_UPSTREAM_ERROR',
    message: `The GraphQL service’s answer is not a GraphQL response: ${why}.`,
    details: { service: c.service, status: r.status },
  });
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') return notGraphql(`it is coded (${coding})`);
  if (!isJsonType(type)) return notGraphql(`it is ${type === '' ? 'without a Content-Type' : type}, not JSON`);
  let doc: unknown;
  try {
    doc = JSON.parse(r.body.toString('utf8'));
  } catch {
    return notGraphql('it is not valid JSON');
  }
  if (nestedDeeper(doc)) return notGraphql(`it nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (!isObject(doc)) return notGraphql('it is not a JSON object');
  const { data, errors } = doc;
  const hasErrors = Array.isArray(errors) && errors.length > 0;
  if (errors !== undefined && !Array.isArray(errors)) return notGraphql('its errors is not a list');
  if (data !== undefined && data !== null && !isObject(data)) return notGraphql('its data is not an object');
  // GraphQL-over-HTTP: a service may answer 4xx/5xx with a GraphQL error document (a request it refused).
  if (!hasErrors && (data === undefined || data === null || r.status < 200 || r.status > 299))
    return notGraphql(data === undefined || data === null ? 'it has neither data nor errors' : `its status is ${r.status}`);
  if (data === undefined || data === null || (hasErrors && c.partial === 'fail'))
    return {
      error: 'GW_GRAPHQL_OPERATION_FAILED',
      ...(data === undefined || data === null ? {} : { message: 'The GraphQL service answered this operation with errors.' }),
      details: { service: c.service, ...errorList(errors as unknown[]) },
    };
  const result = c.rootKey === undefined ? data : (data[c.rootKey] ?? null);
  if (result === null) {
    // With `field` the field is the answer: null beside errors is a failure, not a partial answer.
    if (hasErrors) return { error: 'GW_GRAPHQL_OPERATION_FAILED', details: { service: c.service, ...errorList(errors as unknown[]) } };
    if (c.onNull === 'not-found') return { error: 'GW_GRAPHQL_NOT_FOUND', details: { field: c.rootKey } };
  }
  const headers = ['content-type', 'application/json'];
  if (hasErrors) headers.push('gatehouse-partial', 'true');
  return { serve: { status: 200, headers, body: Buffer.from(JSON.stringify(result)) } };
}

/** The service's errors for the details: message, path and code of the first ten, messages cut short. */
function errorList(errors: unknown[]): { errors: Record<string, unknown>[]; moreErrors?: number } {
  const list = errors.slice(0, MAX_ERRORS).map((e) => {
    const out: Record<string, unknown> = {};
    if (!isObject(e)) return { message: '(an error that is not an object)' };
    const m = typeof e.message === 'string' ? e.message : '(no message)';
    out.message = m.length > MAX_MESSAGE ? `${m.slice(0, MAX_MESSAGE - 1)}…` : m;
    if (Array.isArray(e.path) && e.path.length <= 32 && e.path.every((p) => typeof p === 'string' || typeof p === 'number'))
      out.path = e.path.map((p) => (typeof p === 'string' && p.length > 100 ? p.slice(0, 100) : p));
    const code = isObject(e.extensions) ? e.extensions.code : undefined;
    if (typeof code === 'string' && code.length <= 100) out.code = code;
    return out;
  });
  return errors.length > MAX_ERRORS ? { errors: list, moreErrors: errors.length - MAX_ERRORS } : { errors: list };
}

function headerOf(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return headers[i + 1];
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
