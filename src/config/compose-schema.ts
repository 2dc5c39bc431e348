// `routes[].compose`: a composite route (backend-for-frontend). Instead of proxying to one
// service, the route makes several named calls — in parallel where nothing orders them, after the
// calls whose results they use — and answers with one JSON document composed of their bodies.
// Templates (`{{params.id}}`, `{{calls.user.body.id}}`, `{{item.id}}`) are checked and compiled
// when the config is (src/routes/compose/).
import { z } from 'zod';
import { Deadline, Duration, Size } from './units-schema.js';

export const CALL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const Template = z.string().meta({ description: 'Text with {{ templates }}.' });

const Call = z
  .strictObject({
    name: z
      .string()
      .regex(CALL_NAME, { error: 'a call name is a letter or "_" then letters, digits or "_" (it is read as {{calls.<name>…}})' })
      .meta({ description: 'The call’s name: its key in the answer (`group`) and in templates ({{calls.<name>.body…}}).' }),
    service: z.string().min(1).meta({ description: 'The service it calls (a key of `services`).' }),
    method: z
      .string()
      .regex(/^[A-Za-z]+$/, { error: 'a method is a word such as GET' })
      // CONNECT asks for a tunnel, not an answer: the call would fail as unreachable.
      .refine((m) => m.toUpperCase() !== 'CONNECT', { error: 'a call cannot be a CONNECT (a tunnel has no answer to compose)' })
      .default('GET'),
    path: z
      .string()
      .regex(/^\//, { error: 'a path starts with "/"' })
      .meta({ description: 'The path, a template: "/users/{{params.id}}". Each value put in is encoded as one path segment.' }),
    query: z
      .record(z.string().min(1), Template)
      .default({})
      .meta({ description: 'Query parameters, templates; a parameter whose value is missing is left out.' }),
    headers: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'not a header name' }), Template)
      .default({})
      .meta({
        description:
          'Request headers, templates ({{headers.authorization}} passes the client’s on). No client header is forwarded unless listed here; identity headers of the route’s authentication always are.',
      }),
    body: z.unknown().optional().meta({
      description: 'A JSON body, a template (objects and arrays with templates in their strings); sent as application/json.',
    }),
    timeout: Deadline.optional().meta({ description: 'Longest wait for this call’s whole answer (each forEach request’s own).' }),
    required: z.boolean().default(true).meta({
      description:
        'A required call that fails fails the composite (502, or 504 for a timeout); an optional one is left out and the answer marked partial.',
    }),
    forEach: Template.optional().meta({
      description:
        'Run the call once per element of a list, e.g. "calls.orders.body.items" (a template path without braces); {{item}} is the element, {{index}} its position. The result is the list of answers.',
    }),
    maxFanOut: z.number().int().min(1).max(1000).default(20).meta({
      description: 'The most elements a forEach runs the call for; a longer list fails the call (GW_COMPOSE_FAN_OUT).',
    }),
    nonJson: z.enum(['error', 'string']).default('error').meta({
      description: 'A response that is not JSON: the call fails (`error`), or its body is put in as a string.',
    }),
    extract: z.string().optional().meta({ description: 'Only this field of the body is used (a path: "data.user").' }),
    pick: z.array(z.string()).optional().meta({ description: 'Keep only these fields of the body (paths, `[*]` allowed).' }),
    remove: z.array(z.string()).optional().meta({ description: 'Remove these fields of the body (paths).' }),
    rename: z.record(z.string(), z.string()).optional().meta({ description: 'Rename fields of the body: { from: to } (paths).' }),
    group: z.string().regex(CALL_NAME, { error: 'a group key is a letter or "_" then letters, digits or "_"' }).optional().meta({
      description:
        'The key this call’s body goes under in the answer (default: its name); with output `merge`, put under this key instead of merged.',
    }),
    flatten: z.boolean().default(false).meta({
      description: 'With forEach: answers that are lists are joined into one list (instead of a list of lists).',
    }),
    hidden: z.boolean().default(false).meta({
      description: 'Not part of the answer: the call only feeds later calls (it is still in the reshape’s $calls).',
    }),
  })
  .meta({ description: 'One service call of a composite route.' });

export const ComposeSchema = z
  .strictObject({
    calls: z
      .array(Call)
      .min(1, { error: 'a composite route needs at least one call' })
      .max(50)
      .meta({ description: 'The calls, run in parallel unless a template orders one after another.' }),
    output: z.enum(['group', 'merge']).default('group').meta({
      description:
        '`group`: each call’s body under its name (or `group`); `merge`: the bodies (objects) merged into one, later calls winning.',
    }),
    reshape: z.string().optional().meta({
      description:
        'A JSONata expression over the composed answer for a full reshape; $calls (each call’s status and body), $request (params, query, consumer) and $failed are bound.',
    }),
    status: z
      .number()
      .int()
      .min(200)
      .max(299)
      // RFC 9110 §15.3.5-6: a 204 or 205 has no content (an HTTP/2 client resets a stream that has some).
      .refine((s) => s !== 204 && s !== 205, { error: 'a composed answer has a body: 204 and 205 have none' })
      .default(200)
      .meta({ description: 'The status of a composed answer (2xx with content: not 204 or 205).' }),
    timeout: Deadline.default('10s').meta({
      description: 'The whole composite’s deadline: past it, required calls still running answer 504 and optional ones are left out.',
    }),
    maxBody: Size.default('1mb').meta({ description: 'The largest response body read from one call (a larger one fails the call).' }),
    maxRequestBody: Size.default('1mb').meta({ description: 'The largest client body read (for {{body…}} templates); 413 past it.' }),
    maxCalls: z.number().int().min(1).max(10000).default(100).meta({
      description: 'The most service requests one composite request makes, forEach included; past it the call fails (GW_COMPOSE_FAN_OUT).',
    }),
    partialField: z
      .union([z.string().regex(CALL_NAME), z.literal(false)])
      .default('_failed')
      .meta({
        description:
          'The answer field listing the calls that failed (optional ones) when the answer is partial; false: none (the Gatehouse-Partial header says it).',
      }),
    reshapeTimeout: Duration.default('100ms').meta({ description: 'Longest time one reshape evaluation may take.' }),
  })
  .meta({
    description:
      'A composite route: instead of `service`, named calls to services whose answers are composed into one JSON answer (docs/aggregation.md).',
  });

export type ComposeConfig = z.output<typeof ComposeSchema>;
export type ComposeCallConfig = ComposeConfig['calls'][number];
