// The gateway's own answers to a GraphQL request, in GraphQL's error format:
// { "errors": [{ "message", "extensions": { "code", ... } }] }. The status follows the
// GraphQL-over-HTTP spec: a client that accepts application/graphql-response+json gets 4xx for a
// request error, with that media type; a legacy client (application/json, or no Accept) gets 200
// for a well-formed request whose document is refused, and 400 for a malformed request.
import { ERRORS, type ErrorCode } from '../errors.js';
import type { RespondVerdict } from '../policies/types.js';

const RESPONSE_TYPE = 'application/graphql-response+json';

/** Codes whose `extensions.code` the protocol fixes (Apollo's automatic persisted queries). */
const PROTOCOL_CODES: Partial<Record<ErrorCode, { code: string; message: string }>> = {
  GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND: { code: 'PERSISTED_QUERY_NOT_FOUND', message: 'PersistedQueryNotFound' },
};

/**
 * Refusals of a well-formed request's document or operation: a legacy (application/json) client
 * gets them with 200, as the spec asks; the others (a malformed request, a hash mismatch, 405)
 * keep their status.
 */
const DOCUMENT_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'GW_GRAPHQL_PARSE_FAILED',
  'GW_GRAPHQL_VALIDATION_FAILED',
  'GW_GRAPHQL_DOCUMENT_TOO_LARGE',
  'GW_GRAPHQL_TOO_MANY_TOKENS',
  'GW_GRAPHQL_TOO_DEEP',
  'GW_GRAPHQL_TOO_MANY_ALIASES',
  'GW_GRAPHQL_TOO_MANY_ROOT_FIELDS',
  'GW_GRAPHQL_TOO_MANY_FIELDS',
  'GW_GRAPHQL_TOO_COMPLEX',
  'GW_GRAPHQL_INTROSPECTION_DISABLED',
  'GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND',
  'GW_GRAPHQL_OPERATION_NOT_ALLOWED',
]);

/** The client takes application/graphql-response+json (listed in Accept with a q above 0). */
export function wantsResponseType(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes(RESPONSE_TYPE)) return false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';');
    if (type!.trim().toLowerCase() !== RESPONSE_TYPE) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** The answer refusing a GraphQL request, in GraphQL's error format; `details` join `extensions`. */
export function graphqlRefusal(
  code: ErrorCode,
  accept: string | undefined,
  message?: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>,
): RespondVerdict {
  const modern = wantsResponseType(accept);
  const wellFormed = DOCUMENT_ERRORS.has(code);
  const fixed = PROTOCOL_CODES[code];
  const extensions: Record<string, unknown> = { code: fixed?.code ?? code, ...details };
  if (fixed !== undefined) extensions.gatehouseCode = code;
  const body = JSON.stringify({ errors: [{ message: fixed?.message ?? message ?? ERRORS[code].message, extensions }] });
  return {
    status: modern || !wellFormed ? ERRORS[code].status : 200,
    code,
    body,
    headers: {
      ...headers,
      'content-type': modern ? `${RESPONSE_TYPE}; charset=utf-8` : 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
  };
}
