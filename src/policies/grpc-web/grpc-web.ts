// `type: grpc-web` — browsers' gRPC (the gRPC-Web protocol) translated to gRPC for an h2/h2c
// service. A gRPC-Web call is an HTTP/1.1 or HTTP/2 POST with `application/grpc-web` (messages
// framed as in gRPC) or `application/grpc-web-text` (the same, in base64); its trailers come back
// at the end of the body, in a frame of their own (flag 0x80) holding them as HTTP/1 header lines,
// because a browser cannot read HTTP trailers.
//
// Binary calls stream both ways unchanged (only the content-type changes, and the trailers become
// the last frame); text calls are decoded whole (they are unary or server-streaming: a browser
// cannot stream a request) and their answer is encoded as it streams. Native gRPC calls on the
// same route pass untouched. Cross-origin callers need the `cors` policy beside this one; this one
// exposes the gRPC status fields to them (and the gateway's own refusals of a gRPC-Web call are
// trailers-only gRPC-Web answers: dataplane/grpc.ts).
import { z } from 'zod';
import { Size } from '../../config/units-schema.js';
import { parseSize } from '../../config/units.js';
import { GRPC_CONTENT_TYPE, GRPC_WEB_CONTENT_TYPE } from '../../config/grpc-match.js';
import {
  definePolicy,
  type HeaderList,
  type Policy,
  type RequestBody,
  type RequestContext,
  type ResponseInfo,
  type ResponseTransform,
  type Verdict,
} from '../types.js';
import { decodeText, TextEncoder64 } from './text.js';
import { findHeader, setHeader } from '../../dataplane/header-list.js';

const schema = z.strictObject({
  type: z.literal('grpc-web'),
  maxTextBody: Size.refine((v) => parseSize(v) > 0, { error: 'must be at least 1 byte' })
    .default('1mb')
    .meta({ description: 'The largest `application/grpc-web-text` request body decoded (413 past it); binary calls stream.' }),
});

export const grpcWebPolicy = definePolicy({
  type: 'grpc-web',
  description: 'Translates gRPC-Web calls from browsers (application/grpc-web, application/grpc-web-text) into gRPC.',
  schema,
  phases: ['requestBody', 'upstreamRequest', 'response', 'responseBody'],
  order: 'transform',
  example: {},
  create(config): Policy {
    return new GrpcWebPolicy(parseSize(config.maxTextBody));
  },
});

/** How one call speaks gRPC-Web: text or binary, and its content-type's subtype (`+proto`, `+json` or none). */
interface Mode {
  text: boolean;
  suffix: string;
}

const MODE = 'grpc-web';
/** The subtype of a gRPC-Web content-type, when it names one gRPC knows (`+proto`, `+json`). */
const WEB_SUBTYPE = /^application\/grpc-web(?:-text)?\+(proto|json)\b/i;
const EXPOSED = 'grpc-status, grpc-message, grpc-status-details-bin';
const BAD_TEXT: Verdict = { status: 400, code: 'GW_BAD_BODY', message: 'The application/grpc-web-text body is not base64.' };

class GrpcWebPolicy implements Policy {
  constructor(readonly bodyBufferBytes: number) {}

  readsBody(ctx: RequestContext): boolean {
    return modeOf(ctx)?.text === true;
  }

  requestBody(ctx: RequestContext, body: RequestBody): Verdict {
    if (modeOf(ctx)?.text !== true) return undefined;
    const decoded = decodeText(body.body);
    if (decoded === undefined) return BAD_TEXT;
    body.body = decoded;
    return undefined;
  }

  upstreamRequest(ctx: RequestContext, headers: HeaderList): void {
    const mode = modeOf(ctx);
    if (mode === undefined) return;
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      const name = headers[i]!.toLowerCase();
      if (name === 'content-type' || name === 'x-grpc-web' || name === 'accept' || name === 'te' || name === 'grpc-accept-encoding')
        headers.splice(i, 2);
    }
    // (`te: trailers` is the h2 pool's: upstream/h2-pool.ts.) The messages are passed on as they are, and a browser
    // cannot decompress them, so the service is asked for none.
    headers.push('content-type', `application/grpc${mode.suffix}`, 'grpc-accept-encoding', 'identity');
  }

  response(ctx: RequestContext, res: ResponseInfo): void {
    if (modeOf(ctx) === undefined) return;
    const h = res.headers;
    if (findHeader(h, 'access-control-allow-origin') === undefined) return;
    const exposed = findHeader(h, 'access-control-expose-headers');
    setHeader(h, 'access-control-expose-headers', exposed === undefined ? EXPOSED : `${exposed}, ${EXPOSED}`);
  }

  responseBody(ctx: RequestContext, res: ResponseInfo): ResponseTransform | undefined {
    const mode = modeOf(ctx);
    if (mode === undefined || !GRPC_CONTENT_TYPE.test(findHeader(res.headers, 'content-type') ?? '')) return undefined;
    return webResponse(mode);
  }
}

/** The call's gRPC-Web mode, read once per request from its content-type; undefined for any other request. */
function modeOf(ctx: RequestContext): Mode | undefined {
  const known = ctx.locals.get(MODE) as Mode | null | undefined;
  if (known !== undefined) return known ?? undefined;
  let mode: Mode | null = null;
  const type = ctx.method === 'POST' ? ctx.req.headers['content-type'] : undefined;
  const m = type === undefined ? null : GRPC_WEB_CONTENT_TYPE.exec(type);
  if (m !== null) {
    const suffix = WEB_SUBTYPE.exec(type!);
    mode = { text: m[1] !== undefined, suffix: suffix !== null ? `+${suffix[1]!.toLowerCase()}` : '' };
  }
  ctx.locals.set(MODE, mode);
  return mode ?? undefined;
}

/** The service's gRPC answer as gRPC-Web: its content-type, its messages as they come, its trailers as the last frame. */
function webResponse(mode: Mode): ResponseTransform {
  const text = mode.text ? new TextEncoder64() : undefined;
  let typed = false;
  const retype = (res: ResponseInfo): void => {
    if (typed) return;
    typed = true;
    setHeader(res.headers, 'content-type', `application/grpc-web${mode.text ? '-text' : ''}${mode.suffix === '' ? '+proto' : mode.suffix}`);
  };
  return {
    data(chunk, res) {
      retype(res);
      return text === undefined ? chunk : text.push(chunk);
    },
    end(trailers, res) {
      retype(res);
      // A trailers-only answer (an error before any message) keeps its status in the head.
      const frame = trailers === undefined || trailers.length === 0 ? undefined : trailerFrame(trailers);
      if (text === undefined) return frame;
      const last = frame === undefined ? undefined : text.push(frame);
      const rest = text.end();
      return last === undefined ? rest : rest === undefined ? last : Buffer.concat([last, rest]);
    },
  };
}

/** Trailers as gRPC-Web's last frame: flag 0x80, a 4-byte length, `name:value\r\n` lines (names in lower case). */
export function trailerFrame(trailers: HeaderList): Buffer {
  let block = '';
  for (let i = 0; i < trailers.length; i += 2) block += `${trailers[i]!.toLowerCase()}:${trailers[i + 1]!}\r\n`;
  const bytes = Buffer.from(block, 'latin1');
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0x80;
  out.writeUInt32BE(bytes.length, 1);
  bytes.copy(out, 5);
  return out;
}
