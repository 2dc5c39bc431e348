// The one registry of error codes Gatehouse answers with. docs/errors.md documents each; a test
// fails when a code is undocumented, or documented but not in this registry or never used.

export interface ErrorSpec {
  status: number;
  message: string;
}

export const ERRORS = {
  // Data plane
  GW_BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  GW_BAD_PATH: { status: 400, message: 'The request path is not acceptable.' },
  GW_UNSUPPORTED_TRANSFER_ENCODING: { status: 501, message: 'The only supported Transfer-Encoding is chunked.' },
  GW_ROUTE_NOT_FOUND: { status: 404, message: 'No route matches this request.' },
  GW_METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this path.' },
  GW_IP_FORBIDDEN: { status: 403, message: 'Requests from this address are not allowed.' },
  GW_BOT_FORBIDDEN: { status: 403, message: 'Requests from this client are not allowed.' },
  GW_CORS_FORBIDDEN: { status: 403, message: 'This cross-origin request is not allowed.' },
  GW_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  GW_OVERLOADED: { status: 503, message: 'The gateway is overloaded; retry later.' },
  GW_UPSTREAM_UNAVAILABLE: { status: 502, message: 'The upstream service could not be reached.' },
  GW_UPSTREAM_ERROR: { status: 502, message: 'The upstream service sent an invalid response.' },
  GW_UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream service did not answer in time.' },
  GW_NO_HEALTHY_TARGET: { status: 503, message: 'No healthy instance of the upstream service is available.' },
  GW_CIRCUIT_OPEN: { status: 503, message: 'The upstream service is failing; calls to it are paused.' },
  GW_SERVICE_OVERLOADED: { status: 503, message: 'The upstream service is at its concurrency limit.' },
  GW_UNAUTHORIZED: { status: 401, message: 'Authentication is required to access this resource.' },
  GW_FORBIDDEN: { status: 403, message: 'You are not allowed to access this resource.' },
  GW_INTERNAL: { status: 500, message: 'The gateway failed to handle the request.' },
  GW_POLICY_ERROR: { status: 500, message: 'A plugin policy failed while handling the request.' },
  GW_RATE_LIMITED: { status: 429, message: 'Rate limit exceeded; retry after the time in Retry-After.' },
  GW_RATE_LIMIT_STORE_UNAVAILABLE: { status: 503, message: 'The rate-limit store is unavailable.' },
  GW_CONCURRENCY_LIMITED: { status: 429, message: 'Too many requests in flight; retry shortly.' },
  GW_WEBSOCKET_NOT_ALLOWED: { status: 400, message: 'This route does not accept WebSocket upgrades.' },
  GW_WEBSOCKET_BAD_HANDSHAKE: { status: 400, message: 'The WebSocket handshake is not valid.' },
  GW_WEBSOCKET_ROUTE_LIMIT: { status: 503, message: 'This route has as many open WebSocket connections as it allows; retry later.' },
  GW_WEBSOCKET_CONSUMER_LIMIT: { status: 429, message: 'You have as many open WebSocket connections on this route as allowed.' },
  GW_BAD_BODY: { status: 400, message: 'The request body could not be parsed.' },
  GW_VALIDATION_FAILED: { status: 400, message: 'The request does not match the route’s schema.' },
  GW_UPSTREAM_VALIDATION_FAILED: { status: 502, message: 'The upstream response does not match the route’s schema.' },
  GW_NOT_CACHED: {
    status: 504,
    message: 'The response is not in the cache, and the request asked for a cached one only (only-if-cached).',
  },
  GW_SOAP_FAULT: { status: 502, message: 'The upstream SOAP service answered with a fault.' },
  GW_UPSTREAM_BODY_INVALID: { status: 502, message: 'The upstream response body could not be transformed.' },
  GW_UPSTREAM_BODY_TOO_LARGE: { status: 502, message: 'The upstream response is larger than this route can transform.' },
  GW_COMPOSE_CALL_FAILED: { status: 502, message: 'A required call of this composite route failed.' },
  GW_COMPOSE_TIMEOUT: { status: 504, message: 'A required call of this composite route did not answer in time.' },
  GW_COMPOSE_FAN_OUT: { status: 502, message: 'A call of this composite route would make more requests than it allows.' },
  GW_BATCH_INVALID: { status: 400, message: 'The batch is not a valid JSON list of requests.' },
  GW_BATCH_TOO_MANY: { status: 400, message: 'The batch has more requests than this route allows.' },
  GW_BATCH_NESTED: { status: 400, message: 'A batch cannot contain a batch.' },
  GW_BATCH_ITEM_TOO_LARGE: { status: 502, message: 'The response to this request of the batch is larger than the batch allows.' },
  GW_BATCH_TIMEOUT: { status: 504, message: 'The batch ran out of time before this request was answered.' },
  GW_GRAPHQL_BAD_REQUEST: { status: 400, message: 'The request is not a GraphQL request this route can read.' },
  GW_GRAPHQL_PARSE_FAILED: { status: 400, message: 'The GraphQL document does not parse.' },
  GW_GRAPHQL_VALIDATION_FAILED: { status: 400, message: 'The GraphQL operation is not valid.' },
  GW_GRAPHQL_DOCUMENT_TOO_LARGE: { status: 400, message: 'The GraphQL document is larger than this route allows.' },
  GW_GRAPHQL_TOO_MANY_TOKENS: { status: 400, message: 'The GraphQL document has more tokens than this route allows.' },
  GW_GRAPHQL_TOO_DEEP: { status: 400, message: 'The GraphQL operation is nested deeper than this route allows.' },
  GW_GRAPHQL_TOO_MANY_ALIASES: { status: 400, message: 'The GraphQL operation uses more aliases than this route allows.' },
  GW_GRAPHQL_TOO_MANY_ROOT_FIELDS: { status: 400, message: 'The GraphQL operation selects more root fields than this route allows.' },
  GW_GRAPHQL_TOO_MANY_FIELDS: { status: 400, message: 'The GraphQL operation selects more fields than this route allows.' },
  GW_GRAPHQL_TOO_COMPLEX: { status: 400, message: 'The GraphQL operation costs more than this route allows.' },
  GW_GRAPHQL_INTROSPECTION_DISABLED: { status: 400, message: 'Introspection is not allowed for this caller.' },
  GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND: { status: 400, message: 'PersistedQueryNotFound' },
  GW_GRAPHQL_PERSISTED_QUERY_MISMATCH: { status: 400, message: 'The query does not hash to the persisted query hash sent with it.' },
  GW_GRAPHQL_OPERATION_NOT_ALLOWED: { status: 400, message: 'Only registered operations may run on this route.' },
  GW_GRAPHQL_OPERATION_FAILED: { status: 502, message: 'The GraphQL service answered this operation with errors and no data.' },
  GW_GRAPHQL_NOT_FOUND: { status: 404, message: 'The GraphQL operation found nothing: its result is null.' },
  GW_GRPC_BAD_TIMEOUT: { status: 400, message: 'The grpc-timeout header is malformed.' },
  GW_GRPC_DEADLINE_EXCEEDED: { status: 504, message: 'The call’s deadline (grpc-timeout) passed before it was answered.' },
  // Admin API
  ADMIN_UNAUTHORIZED: { status: 401, message: 'A valid admin token is required.' },
  ADMIN_NOT_FOUND: { status: 404, message: 'No such admin endpoint.' },
  ADMIN_FORBIDDEN: {
    status: 403,
    message: 'The admin API has no token and refuses requests from other origins or for non-local host names.',
  },
  ADMIN_BAD_PATH: { status: 400, message: 'The request path is malformed (an invalid percent escape or UTF-8).' },
  ADMIN_METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this admin endpoint.' },
  ADMIN_BAD_BODY: { status: 400, message: 'The request body could not be read as JSON or YAML.' },
  ADMIN_BAD_QUERY: { status: 400, message: 'A query parameter has a value this endpoint does not accept.' },
  ADMIN_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  ADMIN_RESOURCE_NOT_FOUND: { status: 404, message: 'No such resource.' },
  ADMIN_CONFLICT: { status: 409, message: 'The resource already exists.' },
  ADMIN_PRECONDITION_FAILED: { status: 412, message: 'The resource is not in the state that If-Match or If-None-Match expects.' },
  ADMIN_CSRF: {
    status: 403,
    message: 'A change made with the console session cookie needs the x-gatehouse-csrf header and must come from the console itself.',
  },
  ADMIN_TOO_MANY_LOGINS: { status: 429, message: 'Too many failed console logins; retry after the time in Retry-After.' },
  CONFIG_INVALID: { status: 400, message: 'The configuration is invalid.' },
  CONFIG_RESTART_REQUIRED: {
    status: 409,
    message: 'This change needs a restart: listen, admin, workers and server cannot change on reload.',
  },
  CONFIG_VERSION_UNREADABLE: {
    status: 422,
    message: 'This stored config version cannot be shown or compared: its document is nested too deep.',
  },
  CONFIG_STORE_UNAVAILABLE: {
    status: 503,
    message: 'The config store (PostgreSQL) cannot be reached; the change was not recorded.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string; details?: unknown };
}

export function errorBody(code: ErrorCode, requestId?: string, message?: string, details?: unknown): string {
  const error: ErrorBody['error'] = { code, message: message ?? ERRORS[code].message };
  if (requestId !== undefined) error.requestId = requestId;
  if (details !== undefined) error.details = details;
  return JSON.stringify({ error });
}
