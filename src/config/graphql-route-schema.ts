// `routes[].graphql`: a route that exposes one fixed GraphQL operation as a REST endpoint (as
// KrakenD's GraphQL backend does). The route sends the operation to a GraphQL service with
// variables taken from the request (path, query, body, headers) and answers with its data. The
// document is parsed and its variables checked when the config is (src/routes/graphql/).
import { z } from 'zod';
import { Deadline, Size } from './units-schema.js';
import { parseSize } from './units.js';

const PositiveSize = Size.refine((v) => parseSize(v) > 0, { error: 'must be at least 1 byte' });

/** A GraphQL name (spec §2.1.9): what a variable is called, without its "$". */
export const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

export const GraphqlRouteSchema = z
  .strictObject({
    service: z.string().min(1).meta({ description: 'The GraphQL service the operation goes to (a key of `services`).' }),
    path: z
      .string()
      .regex(/^\/[^?#]*$/, { error: 'a path starts with "/" and has no query' })
      .default('/graphql')
      .meta({ description: 'The service’s GraphQL endpoint.' }),
    operation: z.string().min(1).max(100_000).meta({
      description:
        'The GraphQL document: one query or mutation (several only with `operationName` picking one), with its variable definitions ($id: ID!).',
    }),
    operationName: z
      .string()
      .regex(GRAPHQL_NAME, { error: 'an operation name is a GraphQL name' })
      .optional()
      .meta({ description: 'The operation of the document that runs, when it has several.' }),
    variables: z
      .record(z.string().regex(GRAPHQL_NAME, { error: 'a variable name is a GraphQL name (without "$")' }), z.unknown())
      .default({})
      .meta({
        description:
          'Each variable’s value: a template ("{{params.id}}", "{{query.first}}", "{{body.input}}") or literal JSON. The value is converted to the type the operation declares ($first: Int gets 3 from "3"); a missing one is left out.',
      }),
    headers: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'not a header name' }), z.string())
      .default({})
      .meta({
        description:
          'Request headers sent to the service, templates ({{headers.authorization}} passes the client’s on). No client header is forwarded unless listed; identity headers of the route’s authentication always are.',
      }),
    timeout: Deadline.optional().meta({
      description: 'Longest wait for the service’s whole answer (default: the service’s own timeouts).',
    }),
    maxResponseBody: PositiveSize.default('1mb').meta({
      description: 'The largest answer read from the service; a larger one answers 502 GW_UPSTREAM_ERROR.',
    }),
    maxRequestBody: PositiveSize.default('1mb').meta({
      description: 'The largest client body read (for {{body…}} templates, JSON); 413 past it.',
    }),
    result: z.enum(['data', 'field']).default('data').meta({
      description:
        '`data`: the answer is the operation’s `data` object ({ "user": {…} }); `field`: the value of its one root field ({…}), for an operation that selects exactly one.',
    }),
    onNull: z.enum(['not-found', 'null']).default('not-found').meta({
      description:
        'With `result: field`, a null field without errors (nothing found): 404 GW_GRAPHQL_NOT_FOUND (`not-found`), or 200 with null (`null`).',
    }),
    partial: z.enum(['serve', 'fail']).default('serve').meta({
      description:
        'An answer with both data and errors: `serve` it (200, Gatehouse-Partial: true), or `fail` (502 GW_GRAPHQL_OPERATION_FAILED with the errors).',
    }),
  })
  .meta({
    description:
      'A route that runs one fixed GraphQL operation on a service and answers with its data: REST in front of GraphQL (docs/graphql.md).',
  });

export type GraphqlRouteConfig = z.output<typeof GraphqlRouteSchema>;
