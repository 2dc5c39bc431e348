// The console's endpoints in the admin API's OpenAPI document (openapi.ts): its login and the data
// endpoints it reads besides the older ones, and the query parameters of the config editor.
type Respond = (description: string, schema?: unknown) => Record<string, unknown>;
type Fail = (description: string) => Record<string, unknown>;

const query = (name: string, schema: Record<string, unknown>, description: string) => ({
  name,
  in: 'query',
  required: false,
  schema,
  description,
});

/** GET /config's query parameters. */
export const configGetParameters = [
  query('format', { type: 'string', enum: ['json', 'yaml'], default: 'json' }, 'yaml: the config as YAML text (application/yaml).'),
  query('consumers', { type: 'string', enum: ['include', 'omit'], default: 'include' }, 'omit: leave the consumers out.'),
];

/** POST /config and POST /validate's query parameters. */
export const configPostParameters = [
  query('consumers', { type: 'string', enum: ['keep'] }, 'keep: a document without `consumers` keeps the running ones.'),
];

export const validateParameters = [
  ...configPostParameters,
  query('diff', { type: 'string', enum: ['1'] }, '1: the answer adds `diff`, the changes from the running config (secrets redacted).'),
];

const SESSION = {
  type: 'object',
  properties: { csrf: { type: 'string' }, tokenRequired: { type: 'boolean' }, expiresAt: { type: 'string', format: 'date-time' } },
  required: ['csrf', 'tokenRequired', 'expiresAt'],
};

const POINT = {
  type: 'object',
  properties: Object.fromEntries<Record<string, unknown>>([
    ['t', { type: 'integer', description: 'Unix seconds.' }],
    ...['requests', 'errors', 'clientErrors', 'rateLimited', 'authFailed'].map((k): [string, Record<string, unknown>] => [
      k,
      { type: 'integer' },
    ]),
    ...['p50', 'p95', 'p99'].map((k): [string, Record<string, unknown>] => [
      k,
      { type: ['number', 'null'], description: 'Milliseconds (null: no requests).' },
    ]),
  ]),
};

export function consolePaths(ok: Respond, error: Fail): Record<string, unknown> {
  const open = { security: [] };
  return {
    '/ui/session': {
      get: {
        summary:
          'The console session of the request’s cookie (gatehouse_console): its CSRF value and expiry. Without an admin token (loopback only) a session is created without a login.',
        ...open,
        responses: { 200: ok('Session', SESSION), 401: error('No session; tokenRequired: true (ADMIN_UNAUTHORIZED)') },
      },
      post: {
        summary:
          'Console login: { token } → a session cookie (HttpOnly, SameSite=Strict, Path=/) and its CSRF value. Failed logins are limited per address.',
        ...open,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', properties: { token: { type: 'string' } }, required: ['token'] } } },
        },
        responses: {
          200: ok('Logged in', SESSION),
          401: error('Wrong token (ADMIN_UNAUTHORIZED)'),
          403: error('Cross-site (ADMIN_CSRF)'),
          429: error('Too many failed logins (ADMIN_TOO_MANY_LOGINS)'),
        },
      },
      delete: {
        summary: 'Console logout (needs x-gatehouse-csrf): the session ends, the cookie is cleared.',
        ...open,
        responses: { 204: { description: 'Logged out' }, 401: error('No session'), 403: error('No CSRF value (ADMIN_CSRF)') },
      },
    },
    '/overview': {
      get: {
        summary:
          'version, configVersion, startedAt, uptimeSeconds, workers, stores [{name, kind, state}], configStore {present, version?}, and the counts of routes, services and consumers.',
        responses: { 200: ok('Overview'), 401: error('Token required') },
      },
    },
    '/analytics/timeseries': {
      get: {
        summary:
          'The last N seconds, one point a second, every data plane added up: requests, 5xx, 4xx, rate-limited, auth-failed, p50/p95/p99.',
        parameters: [query('seconds', { type: 'integer', minimum: 1, maximum: 600, default: 300 }, 'How many seconds, up to now.')],
        responses: {
          200: ok('Points', { type: 'object', properties: { step: { const: 1 }, points: { type: 'array', items: POINT } } }),
          400: error('Bad seconds (ADMIN_BAD_QUERY)'),
          401: error('Token required'),
        },
      },
    },
    '/explain': {
      post: {
        summary: 'What the running config does with a request: the same JSON as `gatehouse explain --json`.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  method: { type: 'string' },
                  url: { type: 'string' },
                  headers: { type: 'object', additionalProperties: { type: 'string' } },
                  body: { type: 'string' },
                },
                required: ['method', 'url'],
              },
            },
          },
        },
        responses: { 200: ok('Explanation'), 400: error('Bad method, URL or headers (ADMIN_BAD_BODY)'), 401: error('Token required') },
      },
    },
    '/consumers/{id}/usage': {
      get: {
        summary:
          'The consumer’s usage of each rate limit and quota that counts it (by consumer or credential): limit, window, used, remaining, resetsAt.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: ok('Usage'), 404: error('No such consumer (ADMIN_RESOURCE_NOT_FOUND)'), 401: error('Token required') },
      },
    },
  };
}
