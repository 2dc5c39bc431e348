// `type: request-validator` — JSON Schema (draft 2020-12) for what a client sends: the JSON body,
// query parameters, headers and route params, each against its own schema, compiled once per
// config. A request that fails is answered 400 GW_VALIDATION_FAILED with every problem (up to
// `maxErrors`) as { in, pointer, message }, before the service sees anything. Optionally the
// service's JSON answers are checked too: `log` counts and logs, `enforce` answers 502.
import { z } from 'zod';
import { Size, StatusPattern, statusMatcher } from '../config-fields.js';
import { BodyRefusal, definePolicy, type Policy, type RequestContext, type ResponseInfo, type Verdict } from '../types.js';
import { parseSize } from '../../config/units.js';
import { findHeader } from '../../dataplane/header-list.js';
import { isJsonType, parseJson } from '../transform/json-text.js';
import { firstDuplicateKey } from './duplicate-keys.js';
import { compileSchema, type Check, type Part, type ValidationError } from './schemas.js';

const JsonSchema = z
  .union([z.record(z.string(), z.unknown()), z.boolean()])
  .meta({ description: 'A JSON Schema (draft 2020-12), inline; $ref only within it.' });

const schema = z.strictObject({
  type: z.literal('request-validator'),
  body: JsonSchema.optional().meta({ description: 'The schema of the JSON request body.' }),
  query: JsonSchema.optional().meta({
    description: 'The schema of the query parameters: an object of strings (arrays when repeated), coerced.',
  }),
  headers: JsonSchema.optional().meta({ description: 'The schema of the request headers: an object keyed by lower-case name, coerced.' }),
  params: JsonSchema.optional().meta({ description: 'The schema of the route parameters: an object of strings, coerced.' }),
  bodyRequired: z.boolean().default(true).meta({ description: 'With a body schema: POST, PUT and PATCH without a body are refused.' }),
  maxErrors: z.number().int().min(1).max(100).default(20).meta({ description: 'The most problems one answer lists.' }),
  maxBody: Size.default('1mb').meta({ description: 'The largest request body read for validation (413 past it).' }),
  response: z
    .strictObject({
      mode: z
        .enum(['log', 'enforce'])
        .meta({ description: 'log: count and log, the response passes; enforce: 502 GW_UPSTREAM_VALIDATION_FAILED.' }),
      body: JsonSchema.meta({ description: 'The schema of the JSON response body.' }),
      status: z.array(StatusPattern).min(1).default(['2xx']).meta({ description: 'The statuses checked (200, "2xx").' }),
      maxBody: Size.default('1mb').meta({
        description: 'The largest response body checked (larger: passed in log mode, 502 in enforce mode).',
      }),
    })
    .optional()
    .meta({ description: 'Check the service’s JSON answers too.' }),
});
type Config = z.output<typeof schema>;

const TEXT_PARTS = ['query', 'headers', 'params'] as const;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

interface Compiled {
  checks: Partial<Record<Part, Check>>;
  /** Each with its path below the entry ("body", "response.body"). */
  issues: { path: string; message: string }[];
}

// Config validation and create() receive the same parsed entry: compiled once for both (and for
// every route a global entry is created on), dropped with the config.
const compiled = new WeakMap<object, Compiled>();

/** Each schema compiled, or the issues of those that do not compile. */
function compileAll(config: Config): Compiled {
  const known = compiled.get(config);
  if (known !== undefined) return known;
  const out: Compiled = { checks: {}, issues: [] };
  const one = (part: Part, value: unknown, textual: boolean, path: string) => {
    if (value === undefined) return;
    const check = compileSchema(value, part, textual);
    if (typeof check === 'string') out.issues.push({ path, message: check });
    else out.checks[part] = check;
  };
  one('body', config.body, false, 'body');
  for (const part of TEXT_PARTS) one(part, config[part], true, part);
  one('response', config.response?.body, false, 'response.body');
  compiled.set(config, out);
  return out;
}

function queryObject(query: string): Record<string, string | string[]> {
  const out = new Map<string, string | string[]>();
  if (query !== '')
    for (const [k, v] of new URLSearchParams(query)) {
      const had = out.get(k);
      // Pushed, not copied: `?a=1&a=1…` thousands of times must stay linear.
      if (had === undefined) out.set(k, v);
      else if (Array.isArray(had)) had.push(v);
      else out.set(k, [had, v]);
    }
  return Object.fromEntries(out);
}

function headerObject(ctx: RequestContext): Record<string, string | string[]> {
  const out = new Map<string, string | string[]>();
  // HTTP/2's pseudo-headers (:method, :path…) are not headers of the request.
  for (const [k, v] of Object.entries(ctx.req.headers)) if (v !== undefined && !k.startsWith(':')) out.set(k, v);
  return Object.fromEntries(out);
}

function refuse(errors: ValidationError[]): Verdict {
  return { status: 400, code: 'GW_VALIDATION_FAILED', details: errors };
}

/** One log line a second at most (a broken service must not flood the log), with how many were left out. */
function throttled(log: (count: number) => void): () => void {
  let last = 0;
  let skipped = 0;
  return () => {
    const now = Date.now();
    if (now - last < 1000) {
      skipped++;
      return;
    }
    last = now;
    log(skipped + 1);
    skipped = 0;
  };
}

export const requestValidatorPolicy = definePolicy({
  type: 'request-validator',
  description:
    'Validate the JSON body, query, headers and route params with JSON Schema (400 GW_VALIDATION_FAILED), and optionally the service’s answers.',
  schema,
  phases: ['access', 'requestBody', 'responseBody'],
  order: 'limit',
  example: { query: { type: 'object', properties: { page: { type: 'integer', minimum: 1 } } } },
  validate(config, _ctx, at) {
    return compileAll(config).issues.map((i) => ({ path: `${at}.${i.path}`, message: i.message }));
  },
  create(config, env) {
    const { checks } = compileAll(config);
    const max = config.maxErrors;
    const count = (part: Part) => env.metrics?.validationFailure(env.routeName ?? '*', part);
    const policy: { -readonly [K in keyof Policy]: Policy[K] } = {};
    const textParts = TEXT_PARTS.filter((p) => checks[p] !== undefined);
    if (textParts.length > 0)
      policy.access = (ctx) => {
        const errors: ValidationError[] = [];
        for (const part of textParts) {
          const data = part === 'query' ? queryObject(ctx.query) : part === 'headers' ? headerObject(ctx) : { ...ctx.params };
          const found = checks[part]!(data, max - errors.length);
          if (found.length === 0) continue;
          count(part);
          errors.push(...found);
          if (errors.length >= max) break;
        }
        return errors.length > 0 ? refuse(errors) : undefined;
      };
    const bodyCheck = checks.body;
    if (bodyCheck !== undefined) {
      policy.bodyBufferBytes = parseSize(config.maxBody);
      policy.requestBody = (ctx, b) => {
        if (b.body.length === 0) {
          if (!config.bodyRequired || !BODY_METHODS.has(ctx.method)) return undefined;
          count('body');
          return refuse([{ in: 'body', pointer: '', message: 'a JSON body is required' }]);
        }
        const encoding = ctx.req.headers['content-encoding'];
        if (!isJsonType(b.contentType) || (encoding !== undefined && encoding.toLowerCase() !== 'identity')) {
          count('body');
          return refuse([{ in: 'body', pointer: '', message: 'must be JSON (Content-Type application/json or +json, not encoded)' }]);
        }
        const text = b.body.toString('utf8');
        const parsed = parseJson(text);
        if (!parsed.ok) {
          count('body');
          const { message, position, line, column } = parsed.error;
          return { status: 400, code: 'GW_BAD_BODY', message: `The request body is ${message}.`, details: { position, line, column } };
        }
        const duplicate = firstDuplicateKey(text);
        if (duplicate !== undefined) {
          count('body');
          return refuse([{ in: 'body', pointer: duplicate, message: 'must NOT repeat a name in its object' }]);
        }
        const found = bodyCheck(parsed.value, max);
        if (found.length === 0) return undefined;
        count('body');
        return refuse(found);
      };
    }
    const response = config.response;
    const responseCheck = checks.response;
    if (response !== undefined && responseCheck !== undefined) {
      const statuses = statusMatcher(response.status);
      const enforce = response.mode === 'enforce';
      const maxBytes = parseSize(response.maxBody);
      let lastErrors: ValidationError[] = [];
      let lastRequest = '';
      const logFailure = throttled((n) =>
        env.log.warn(
          { route: env.routeName, requestId: lastRequest, errors: lastErrors, count: n },
          'response failed its schema (request-validator)',
        ),
      );
      const check = (ctx: RequestContext, raw: Buffer, res: ResponseInfo): Buffer => {
        const ct = findHeader(res.headers, 'content-type') ?? '';
        let errors: ValidationError[];
        if (!isJsonType(ct)) errors = [{ in: 'response', pointer: '', message: `must be JSON, not ${JSON.stringify(ct)}` }];
        else {
          const parsed = parseJson(raw.toString('utf8'));
          if (!parsed.ok) errors = [{ in: 'response', pointer: '', message: parsed.error.message }];
          else errors = responseCheck(parsed.value, max);
        }
        if (errors.length === 0) return raw;
        count('response');
        lastErrors = errors;
        lastRequest = ctx.requestId;
        logFailure();
        // The client learns that the service broke its contract, not the service's data.
        if (enforce) throw new BodyRefusal('GW_UPSTREAM_VALIDATION_FAILED', 'The upstream response does not match the route’s schema.');
        return raw;
      };
      policy.responseBody = (ctx, res) => {
        if (!statuses(res.status)) return undefined;
        return { maxBytes, tooLarge: enforce ? 'error' : 'pass', rewrite: (raw, info) => check(ctx, raw, info) };
      };
    }
    return policy;
  },
});
