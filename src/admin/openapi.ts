// The admin API's OpenAPI document, built from the same config schema the validator uses.
import { configJsonSchema } from '../config/json-schema.js';
import { ConfigSchema } from '../policies/index.js';
import { z } from 'zod';
import { ERRORS } from '../errors.js';
import { RegisteredOperation } from '../policies/graphql/persisted-schema.js';
import { VERSION } from '../version.js';
import { configGetParameters, configPostParameters, consolePaths, validateParameters } from './console/openapi-paths.js';

export function openApiDocument(): Record<string, unknown> {
  const configSchema = configJsonSchema(ConfigSchema);
  delete configSchema.$schema;
  delete configSchema.$id;
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: unknown) => ({ 'application/json': { schema } });
  const error = (description: string) => ({ description, content: json(ref('Error')) });
  const configBody = {
    required: true,
    description: 'A whole Gatehouse config, as JSON or YAML, taken literally (`${VAR}` references are expanded only in config files).',
    content: { 'application/json': { schema: ref('GatehouseConfig') }, 'application/yaml': { schema: ref('GatehouseConfig') } },
  };
  const ok = (description: string, schema: unknown = { type: 'object' }) => ({ description, content: json(schema) });
  const header = (name: string) => ({ name, in: 'header', required: false, schema: { type: 'string' } });
  const preconditions = [header('If-Match'), header('If-None-Match')];
  const pageParameters = [
    { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } },
    { name: 'after', in: 'query', required: false, schema: { type: 'string' } },
  ];
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: VERSION },
    security: [{ bearer: [] }, {}],
    paths: {
      '/health': { get: { summary: 'The process is alive.', security: [], responses: { 200: ok('Alive') } } },
      '/ready': {
        get: {
          summary: 'Config loaded and listeners up; the state of each rate-limit store (not a readiness condition).',
          security: [],
          responses: { 200: ok('Ready'), 503: ok('Not ready') },
        },
      },
      '/config': {
        get: {
          summary: 'The active config, secrets redacted.',
          parameters: configGetParameters,
          responses: { 200: ok('The config', ref('GatehouseConfig')), 401: error('Token required') },
        },
        post: {
          summary: 'Validate a new config and apply it atomically.',
          parameters: configPostParameters,
          requestBody: configBody,
          responses: {
            200: ok('Applied'),
            400: error('Invalid (CONFIG_INVALID, ADMIN_BAD_BODY)'),
            409: error('Needs a restart (CONFIG_RESTART_REQUIRED)'),
            401: error('Token required'),
          },
        },
      },
      '/validate': {
        post: {
          summary: 'Dry run: would this config be accepted?',
          parameters: validateParameters,
          requestBody: configBody,
          responses: { 200: ok('Valid'), 400: error('Invalid'), 409: error('Needs a restart'), 401: error('Token required') },
        },
      },
      ...configStorePaths(ok, error),
      ...consolePaths(ok, error),
      '/routes': {
        get: { summary: 'The compiled route table in match order.', responses: { 200: ok('Routes'), 401: error('Token required') } },
      },
      '/services': { get: { summary: 'Services and their targets.', responses: { 200: ok('Services'), 401: error('Token required') } } },
      '/services/{name}/health': {
        get: {
          summary:
            'Target health (active checks, ejections and their reasons), circuit breaker and queue of one service; with workers, one entry per worker.',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: ok('Health'), 404: error('No such service (ADMIN_NOT_FOUND)'), 401: error('Token required') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (text format 0.0.4): every data plane added up, plus config reloads and version.',
          responses: {
            200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
            401: error('Token required'),
          },
        },
      },
      '/analytics': {
        get: {
          summary:
            'Per route, service and consumer: requests, error rate, p50/p95/p99 latency, rate-limited and auth-failed counts, top client IPs and user agents.',
          parameters: [
            { name: 'window', in: 'query', required: false, schema: { type: 'string', enum: ['1m', '15m', '1h'], default: '1m' } },
          ],
          responses: { 200: ok('Analytics'), 400: error('Bad window (ADMIN_BAD_QUERY)'), 401: error('Token required') },
        },
      },
      '/certificates': {
        get: {
          summary:
            'The certificates each TLS listener serves now: subject, names, issuer, validity, serial number, SHA-256 fingerprint, listener, whether it is the default, and the last renewal that could not be used.',
          responses: { 200: ok('Certificates', ref('Certificates')), 401: error('Token required') },
        },
      },
      '/cache': {
        delete: {
          summary:
            'Forget cached responses in every data plane: by exact key, by key prefix (keys are "GET host/path?sorted-query#parts"), or by a tag from the responses\' Surrogate-Key / Cache-Tag. Answers { deleted } (keys).',
          parameters: [
            { name: 'key', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'prefix', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'tag', in: 'query', required: false, schema: { type: 'string' } },
          ],
          responses: {
            200: ok('Deleted'),
            400: error('Not exactly one of key, prefix, tag (ADMIN_BAD_QUERY)'),
            401: error('Token required'),
          },
        },
      },
      '/cache/stats': {
        get: {
          summary: 'Every cache store of every data plane: type, entries, bytes held, evictions.',
          responses: { 200: ok('Cache stores'), 401: error('Token required') },
        },
      },
      '/openapi.json': { get: { summary: 'This document.', responses: { 200: ok('OpenAPI 3.1') } } },
      ...Object.fromEntries(
        (['routes', 'services', 'plans'] as const).flatMap((kind) => [
          [
            `/config/${kind}`,
            {
              get: {
                summary: `The ${kind} of the config (objects as written, secrets redacted). Paginated with ?limit= (1–1000) and ?after=<last name>; the body's next is the cursor of the next page (null at the end).`,
                parameters: pageParameters,
                responses: { 200: ok(kind), 400: error('Bad limit (ADMIN_BAD_QUERY)'), 401: error('Token required') },
              },
            },
          ],
          [
            `/config/${kind}/{name}`,
            {
              parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
              get: {
                summary: 'One object; its ETag in the ETag header.',
                responses: { 200: ok('Object'), 404: error('ADMIN_RESOURCE_NOT_FOUND') },
              },
              put: {
                summary: 'Create (201) or replace (200) it; validated as a whole config. If-Match / If-None-Match: * are honoured.',
                parameters: preconditions,
                requestBody: { required: true, content: json({ type: 'object' }) },
                responses: {
                  200: ok('Replaced'),
                  201: ok('Created'),
                  400: error('Invalid (CONFIG_INVALID)'),
                  412: error('Precondition failed (ADMIN_PRECONDITION_FAILED)'),
                },
              },
              delete: {
                summary: 'Delete it; refused while something names it (a service used by a route, a plan a consumer has).',
                parameters: preconditions,
                responses: {
                  200: ok('Deleted'),
                  404: error('ADMIN_RESOURCE_NOT_FOUND'),
                  409: error('In use (ADMIN_CONFLICT)'),
                  412: error('Precondition failed (ADMIN_PRECONDITION_FAILED)'),
                },
              },
            },
          ],
        ]),
      ),
      '/consumers': {
        get: {
          summary:
            'Consumers and their credentials (never secrets). With ?limit= (1–1000) and/or ?after=<last id>: one page in id order, and next (the cursor of the next page, null at the end).',
          parameters: pageParameters,
          responses: { 200: ok('Consumers'), 401: error('Token required') },
        },
        post: {
          summary: 'Add a consumer (applied like POST /config).',
          requestBody: { required: true, content: json(ref('Consumer')) },
          responses: {
            201: ok('Created'),
            400: error('Invalid (CONFIG_INVALID)'),
            409: error('Exists (ADMIN_CONFLICT)'),
            401: error('Token required'),
          },
        },
      },
      '/consumers/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'One consumer.', responses: { 200: ok('Consumer'), 404: error('ADMIN_RESOURCE_NOT_FOUND') } },
        put: {
          summary: 'Create or replace a consumer.',
          requestBody: { required: true, content: json(ref('Consumer')) },
          responses: { 200: ok('Replaced'), 201: ok('Created'), 400: error('Invalid') },
        },
        delete: {
          summary: 'Remove a consumer.',
          responses: { 200: ok('Deleted'), 404: error('ADMIN_RESOURCE_NOT_FOUND'), 400: error('Still referenced (CONFIG_INVALID)') },
        },
      },
      '/consumers/{id}/credentials': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          summary: "A consumer's credentials (ids and types, never secrets).",
          responses: { 200: ok('Credentials'), 404: error('ADMIN_RESOURCE_NOT_FOUND') },
        },
        post: {
          summary: 'Add a credential; its id defaults to <consumer>:<type>:<index>.',
          requestBody: { required: true, content: json({ type: 'object' }) },
          responses: { 201: ok('Created'), 400: error('Invalid'), 409: error('ADMIN_CONFLICT') },
        },
      },
      '/consumers/{id}/credentials/{credId}': {
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'credId', in: 'path', required: true, schema: { type: 'string' } },
        ],
        get: {
          summary: 'One credential (never its secret).',
          responses: { 200: ok('Credential'), 404: error('ADMIN_RESOURCE_NOT_FOUND') },
        },
        put: {
          summary: 'Create or replace a credential (e.g. rotate a key).',
          requestBody: { required: true, content: json({ type: 'object' }) },
          responses: { 200: ok('Replaced'), 201: ok('Created'), 400: error('Invalid') },
        },
        delete: { summary: 'Remove a credential.', responses: { 200: ok('Deleted'), 404: error('ADMIN_RESOURCE_NOT_FOUND') } },
      },
      '/graphql/operations': {
        get: {
          summary: 'Registered GraphQL operations (the allow lists of graphql policies): id, name, size.',
          responses: { 200: ok('Operations'), 401: error('Token required') },
        },
        post: {
          summary:
            'Register an operation (applied like POST /config); its id is the SHA-256 of its body. The same body again: 200, nothing changes.',
          requestBody: { required: true, content: json(ref('GraphQLOperation')) },
          responses: {
            200: ok('Already registered'),
            201: ok('Registered'),
            400: error('Invalid (CONFIG_INVALID)'),
            401: error('Token required'),
          },
        },
      },
      '/graphql/operations/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } }],
        get: {
          summary: 'One registered operation, with its document.',
          responses: { 200: ok('Operation'), 404: error('ADMIN_RESOURCE_NOT_FOUND') },
        },
        delete: { summary: 'Remove a registered operation.', responses: { 200: ok('Deleted'), 404: error('ADMIN_RESOURCE_NOT_FOUND') } },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        GatehouseConfig: configSchema,
        Certificates: {
          type: 'object',
          required: ['configVersion', 'certificates'],
          properties: {
            configVersion: { type: 'integer' },
            certificates: {
              type: 'array',
              items: {
                type: 'object',
                required: [
                  'listener',
                  'at',
                  'default',
                  'subject',
                  'names',
                  'issuer',
                  'notBefore',
                  'notAfter',
                  'serialNumber',
                  'fingerprint256',
                ],
                properties: {
                  listener: { type: 'string', description: 'The listener address, host:port.' },
                  at: { type: 'string', description: 'Where the config writes it, e.g. listen[0].tls.certificates[1].' },
                  default: { type: 'boolean', description: 'Served to clients without SNI or with an unknown name.' },
                  subject: { type: 'string' },
                  names: { type: 'array', items: { type: 'string' }, description: 'The names SNI selects it for.' },
                  subjectAltName: { type: 'string' },
                  issuer: { type: 'string' },
                  notBefore: { type: 'string', format: 'date-time' },
                  notAfter: { type: 'string', format: 'date-time' },
                  expiresInSeconds: { type: 'integer' },
                  serialNumber: { type: 'string' },
                  fingerprint256: { type: 'string' },
                  files: { type: 'array', items: { type: 'string' } },
                  loadedAt: { type: 'string', format: 'date-time' },
                  workers: { type: 'integer', description: 'With workers: how many serve it.' },
                  reloadError: {
                    type: 'object',
                    properties: { message: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
                    description: 'The last change of its files that could not be used; this certificate keeps serving.',
                  },
                },
              },
            },
          },
        },
        GraphQLOperation: operationSchema(),
        Consumer: (configSchema as { properties: { consumers: { items: unknown } } }).properties.consumers.items,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: Object.keys(ERRORS) },
                message: { type: 'string' },
                requestId: { type: 'string' },
                details: {
                  type: 'array',
                  items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
    },
  };
}

/** A registered operation as POST /graphql/operations takes it (the section's item). */
function operationSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(RegisteredOperation, { io: 'input' }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}

type Respond = (description: string, schema?: unknown) => Record<string, unknown>;

/** The endpoints of an instance with a config store (configStore; docs/cluster.md); 404 without one. */
function configStorePaths(ok: Respond, error: (description: string) => Record<string, unknown>): Record<string, unknown> {
  const n = { name: 'n', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
  const unavailable = error('The config store cannot be reached (CONFIG_STORE_UNAVAILABLE)');
  return {
    '/config/versions': {
      get: {
        summary: 'The stored config versions, newest first, with author, time and comment (config store only).',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
          { name: 'before', in: 'query', schema: { type: 'integer', minimum: 1 } },
        ],
        responses: { 200: ok('Versions'), 400: error('Bad query (ADMIN_BAD_QUERY)'), 404: error('No config store'), 503: unavailable },
      },
    },
    '/config/versions/{n}': {
      get: {
        summary: 'One stored version: its config (secrets redacted), author, time and comment.',
        parameters: [n],
        responses: { 200: ok('The version'), 404: error('No such version (ADMIN_RESOURCE_NOT_FOUND)'), 503: unavailable },
      },
    },
    '/config/versions/{n}/rollback': {
      post: {
        summary: 'Make version n the config again, as a new version (X-Gatehouse-Author, X-Gatehouse-Comment).',
        parameters: [n],
        responses: {
          200: ok('Rolled back'),
          400: error('Invalid with this boot file (CONFIG_INVALID)'),
          404: error('No such version'),
          503: unavailable,
        },
      },
    },
    '/config/diff': {
      get: {
        summary: 'What changed between two stored versions, leaf by leaf.',
        parameters: [
          { name: 'from', in: 'query', required: true, schema: { type: 'integer', minimum: 1 } },
          { name: 'to', in: 'query', required: true, schema: { type: 'integer', minimum: 1 } },
        ],
        responses: { 200: ok('Changes'), 400: error('Bad query (ADMIN_BAD_QUERY)'), 404: error('No such version'), 503: unavailable },
      },
    },
    '/cluster': {
      get: {
        summary: 'The instances sharing the config store: id, address, applied version, last heartbeat, lagging and stale.',
        responses: { 200: ok('Cluster'), 404: error('No config store'), 503: unavailable },
      },
    },
  };
}
