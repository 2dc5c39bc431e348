// `type: response-transformer` — change what the client gets: headers (remove, rename, set, add,
// append) and a JSON body (the same edits as request-transformer), for the responses `when`
// selects by status and Content-Type. A body edit reads the response whole, bounded by `maxBody`
// (`onTooLarge`: 502 GW_UPSTREAM_BODY_TOO_LARGE, or the body passed through unchanged); every other
// response streams. An edited body loses the service's ETag and digests (they named the old
// bytes); the gateway sets its Content-Length.
import { z } from 'zod';
import { Size, StatusPattern, statusMatcher } from '../config-fields.js';
import { BodyRefusal, definePolicy, type Policy, type RequestContext, type ResponseInfo } from '../types.js';
import { parseSize } from '../../config/units.js';
import { findHeader, removeHeader } from '../../dataplane/header-list.js';
import { compileHeaderEdits, editIssues, HeaderEdits } from '../transform/fields.js';
import { BodyEdits, bodyIssues, compileBodyEdits, requestBindings } from '../transform/body.js';
import { isJsonType, parseJson, serialize } from '../transform/json-text.js';
import { reshapeFailure } from '../transform/reshape.js';

const schema = z.strictObject({
  type: z.literal('response-transformer'),
  when: z
    .strictObject({
      status: z.array(StatusPattern).min(1).optional().meta({ description: 'Statuses it applies to (200, "2xx"); default all.' }),
      contentType: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .meta({ description: 'Media types it applies to ("application/json", "application/*", "application/*+json"); default any.' }),
    })
    .default({})
    .meta({ description: 'Which responses it changes (headers and body alike).' }),
  headers: HeaderEdits.meta({ description: 'Edits of the response headers sent to the client.' }),
  body: BodyEdits.meta({ description: 'Edits of a JSON response body (application/json or +json).' }),
  maxBody: Size.default('1mb').meta({ description: 'The largest response body the body edits read.' }),
  onTooLarge: z
    .enum(['error', 'pass'])
    .default('error')
    .meta({ description: 'A larger body: 502 GW_UPSTREAM_BODY_TOO_LARGE (error) or sent unchanged (pass).' }),
});
type Config = z.output<typeof schema>;

/** Whether a response is one `when` selects. Compiled once. */
function compileWhen(when: Config['when']): (res: ResponseInfo) => boolean {
  const statuses = when.status === undefined ? undefined : statusMatcher(when.status);
  // "application/json" exactly; "application/*" or "application/*+json" by prefix and suffix.
  const types = when.contentType?.map((t) => {
    const [prefix, suffix] = t.toLowerCase().split('*', 2) as [string, string | undefined];
    return (type: string) =>
      suffix === undefined
        ? type === prefix
        : type.length >= prefix.length + suffix.length && type.startsWith(prefix) && type.endsWith(suffix);
  });
  return (res) => {
    if (statuses !== undefined && !statuses(res.status)) return false;
    if (types === undefined) return true;
    const ct = findHeader(res.headers, 'content-type');
    if (ct === undefined) return false;
    const semi = ct.indexOf(';');
    const type = (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
    return types.some((f) => f(type));
  };
}

// What named the service's bytes: wrong once the body is edited.
const BYTE_BOUND = ['etag', 'content-md5', 'digest', 'repr-digest', 'content-digest'];

export const responseTransformerPolicy = definePolicy({
  type: 'response-transformer',
  description:
    'Change response headers and JSON bodies (paths, templates, JSONata) before they reach the client, by status and Content-Type.',
  schema,
  phases: ['response', 'responseBody'],
  order: 'transform',
  example: { headers: { set: { 'x-served-by': 'gatehouse' } } },
  validate(config, _ctx, at) {
    return [...editIssues(config.headers, `${at}.headers`, true), ...bodyIssues(config.body, `${at}.body`)];
  },
  create(config, env) {
    const applies = compileWhen(config.when);
    const headers = compileHeaderEdits(config.headers);
    const body = compileBodyEdits(config.body);
    const requireJson = config.body?.requireJson ?? false;
    const maxBytes = parseSize(config.maxBody);
    const maxOutput = config.body?.maxOutput === undefined ? 2 * maxBytes : parseSize(config.body.maxOutput);
    const tooLarge = config.onTooLarge;

    /** Whether the body edits take this response (a whole, JSON body the client will get). */
    const editsBody = (res: ResponseInfo): boolean => {
      if (res.status === 206 || !applies(res)) return false; // a part is not the representation
      const json = isJsonType(findHeader(res.headers, 'content-type') ?? '');
      return json || requireJson;
    };
    const policy: Policy = {
      response(ctx, res) {
        if (!applies(res)) return;
        headers?.(ctx, res.headers);
        // Also on HEAD and on bodies that turn out encoded, so that a HEAD answers as its GET would.
        if (body !== undefined && editsBody(res)) for (const name of BYTE_BOUND) removeHeader(res.headers, name);
      },
    };
    if (body === undefined) return policy;
    const rewrite = async (ctx: RequestContext, raw: Buffer, res: ResponseInfo): Promise<Buffer> => {
      if (!isJsonType(findHeader(res.headers, 'content-type') ?? ''))
        throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', 'The upstream response is not JSON, and this route transforms it as JSON.');
      if (raw.length === 0) return raw;
      const parsed = parseJson(raw.toString('utf8'));
      if (!parsed.ok) {
        const { message, position, line, column } = parsed.error;
        throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The upstream response is ${message}.`, { position, line, column });
      }
      let out: unknown;
      try {
        out = await body(parsed.value, ctx, () => ({ ...requestBindings(ctx), status: res.status, responseHeaders: headerObject(res) }));
      } catch (err) {
        // JSONata's message may quote the value it failed on: a field this route removes. The log has it; the client the code.
        env.log.warn({ requestId: ctx.requestId, route: ctx.routeName, reason: reshapeFailure(err) }, 'response reshape failed');
        throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The upstream response could not be reshaped: ${reshapeFailure(err, false)}.`);
      }
      const result = serialize(out, maxOutput);
      if (typeof result === 'string')
        throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The transformed response cannot be sent: ${result}.`);
      return result;
    };
    return {
      ...policy,
      responseBody(ctx, res) {
        if (!editsBody(res)) return undefined;
        return { maxBytes, tooLarge, rewrite: (raw, info) => rewrite(ctx, raw, info) };
      },
    };
  },
});

function headerObject(res: ResponseInfo): Record<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < res.headers.length; i += 2) {
    const k = res.headers[i]!.toLowerCase();
    const had = out.get(k);
    out.set(k, had === undefined ? res.headers[i + 1]! : `${had}, ${res.headers[i + 1]}`);
  }
  return Object.fromEntries(out);
}
