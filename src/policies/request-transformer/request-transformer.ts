// `type: request-transformer` — change what goes to the service: headers and query parameters
// (remove, rename, set, add, append) and a JSON body (field edits by path, templates over the
// request, a JSONata reshape). Header and query edits cost no buffering; body edits read the body
// whole (up to `maxBody`, 413 past it) and only on the routes that have them.
import { z } from 'zod';
import { Size } from '../config-fields.js';
import { definePolicy, type Policy, type RequestBody, type Verdict } from '../types.js';
import { parseSize } from '../../config/units.js';
import { compileHeaderEdits, compileQueryEdits, editIssues, HeaderEdits, QueryEdits } from '../transform/fields.js';
import { BodyEdits, bodyIssues, compileBodyEdits, requestBindings } from '../transform/body.js';
import { isJsonType, parseJson, serialize } from '../transform/json-text.js';
import { reshapeFailure } from '../transform/reshape.js';

const schema = z.strictObject({
  type: z.literal('request-transformer'),
  headers: HeaderEdits.meta({ description: 'Edits of the request headers sent to the service.' }),
  query: QueryEdits.meta({ description: 'Edits of the query parameters sent to the service.' }),
  body: BodyEdits.meta({ description: 'Edits of a JSON request body (application/json or +json).' }),
  maxBody: Size.default('1mb').meta({ description: 'The largest body the body edits read (413 past it).' }),
});

/** A body the edits cannot read: 400 GW_BAD_BODY with where it went wrong. */
function badBody(message: string, details?: unknown): Verdict {
  return { status: 400, code: 'GW_BAD_BODY', message, details };
}

export const requestTransformerPolicy = definePolicy({
  type: 'request-transformer',
  description: 'Change request headers, query parameters and JSON bodies (paths, templates, JSONata) before they reach the service.',
  schema,
  phases: ['requestBody', 'upstreamRequest'],
  order: 'transform',
  example: { headers: { set: { 'x-consumer': '{{consumer.id}}' } } },
  validate(config, _ctx, at) {
    return [
      ...editIssues(config.headers, `${at}.headers`, true),
      ...editIssues(config.query, `${at}.query`, false),
      ...bodyIssues(config.body, `${at}.body`),
    ];
  },
  create(config) {
    const headers = compileHeaderEdits(config.headers);
    const query = compileQueryEdits(config.query);
    const body = compileBodyEdits(config.body);
    const requireJson = config.body?.requireJson ?? false;
    const maxBody = parseSize(config.maxBody);
    const maxOutput = config.body?.maxOutput === undefined ? 2 * maxBody : parseSize(config.body.maxOutput);
    const policy: Policy = {};
    if (headers !== undefined || query !== undefined)
      policy.upstreamRequest = (ctx, h) => {
        headers?.(ctx, h); // header templates read the query as the client sent it
        query?.(ctx);
      };
    if (body === undefined) return policy;
    return {
      ...policy,
      bodyBufferBytes: maxBody,
      requestBody(ctx, b: RequestBody): Verdict | Promise<Verdict> {
        const encoding = ctx.req.headers['content-encoding'];
        const json = isJsonType(b.contentType) && (encoding === undefined || encoding.toLowerCase() === 'identity');
        if (!json) return requireJson ? badBody('The request body must be JSON (Content-Type application/json), not encoded.') : undefined;
        if (b.body.length === 0) return undefined; // no body to edit
        const parsed = parseJson(b.body.toString('utf8'));
        if (!parsed.ok) {
          const { message, position, line, column } = parsed.error;
          return badBody(`The request body is ${message}.`, { position, line, column });
        }
        const done = (out: unknown): Verdict => {
          const result = serialize(out, maxOutput);
          if (typeof result === 'string') return badBody(`The transformed request body cannot be sent: ${result}.`);
          b.body = result;
          return undefined;
        };
        const out = body(parsed.value, ctx, () => requestBindings(ctx));
        if (!(out instanceof Promise)) return done(out);
        return out.then(done, (err: unknown) => badBody(`The request body could not be reshaped: ${reshapeFailure(err)}.`));
      },
    };
  },
});
