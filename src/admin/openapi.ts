// The admin API's OpenAPI document, built from the same config schema the validator uses.
import { configJsonSchema } from '../config/json-schema.js';
import { ERRORS } from '../errors.js';
import { VERSION } from '../version.js';

export function openApiDocument(): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...configSchema } = configJsonSchema();
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: unknown) => ({ 'application/json': { schema } });
  const error = (description: string) => ({ description, content: json(ref('Error')) });
  const configBody = {
    required: true,
    description: 'A whole Gatehouse config, as JSON or YAML (`${VAR}` references are interpolated).',
    content: { 'application/json': { schema: ref('GatehouseConfig') }, 'application/yaml': { schema: ref('GatehouseConfig') } },
  };
  const ok = (description: string, schema: unknown = { type: 'object' }) => ({ description, content: json(schema) });
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: VERSION },
    security: [{ bearer: [] }, {}],
    paths: {
      '/health': { get: { summary: 'The process is alive.', security: [], responses: { 200: ok('Alive') } } },
      '/ready': { get: { summary: 'Config loaded and listeners up.', security: [], responses: { 200: ok('Ready'), 503: ok('Not ready') } } },
      '/config': {
        get: { summary: 'The active config, secrets redacted.', responses: { 200: ok('The config', ref('GatehouseConfig')), 401: error('Token required') } },
        post: {
          summary: 'Validate a new config and apply it atomically.',
          requestBody: configBody,
          responses: { 200: ok('Applied'), 400: error('Invalid (CONFIG_INVALID, ADMIN_BAD_BODY)'), 409: error('Needs a restart (CONFIG_RESTART_REQUIRED)'), 401: error('Token required') },
        },
      },
      '/validate': {
        post: { summary: 'Dry run: would this config be accepted?', requestBody: configBody, responses: { 200: ok('Valid'), 400: error('Invalid'), 409: error('Needs a restart'), 401: error('Token required') } },
      },
      '/routes': { get: { summary: 'The compiled route table in match order.', responses: { 200: ok('Routes'), 401: error('Token required') } } },
      '/services': { get: { summary: 'Services and their targets.', responses: { 200: ok('Services'), 401: error('Token required') } } },
      '/services/{name}/health': {
        get: {
          summary: 'Target health (active checks, ejections and their reasons), circuit breaker and queue of one service; with workers, one entry per worker.',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: ok('Health'), 404: error('No such service (ADMIN_NOT_FOUND)'), 401: error('Token required') },
        },
      },
      '/openapi.json': { get: { summary: 'This document.', responses: { 200: ok('OpenAPI 3.1') } } },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        GatehouseConfig: configSchema,
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
                details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
  };
}
