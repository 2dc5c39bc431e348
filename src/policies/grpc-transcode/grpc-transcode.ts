// `type: grpc-transcode` — gRPC methods exposed as JSON over HTTP, from the services' own protos
// and their `google.api.http` rules (or rules in the config), with no generated code: a client's
// `GET /v1/users/42` becomes the call `/acme.users.v1.Users/GetUser` with the message the rule
// builds from the path, the query and the JSON body; the answer comes back as proto3 JSON, a gRPC
// error as its HTTP status with a google.rpc.Status body, and a server stream as JSON lines or
// server-sent events, each message as it arrives (decision 0011).
//
// The protos are loaded and the rules compiled when the config is compiled (validate and create
// share the result: one compile per entry); per request the policy matches a compiled table,
// builds one message and reads the answer's frames. Native gRPC calls on the route pass untouched.
import { parseSize } from '../../config/units.js';
import { GRPC_CONTENT_TYPE } from '../../config/grpc-match.js';
import {
  definePolicy,
  type HeaderList,
  type Policy,
  type PolicyIssue,
  type RequestBody,
  type RequestContext,
  type ResponseTransform,
  type Verdict,
} from '../types.js';
import { loadProtos } from './protos.js';
import { compileBindings, type Binding, type BindingTable } from './http-rules.js';
import { buildRequest } from './request-message.js';
import { messageToJson } from './response-message.js';
import { errorBody, httpStatusOf } from './grpc-status.js';
import { frame } from './frames.js';
import { transcodedResponse, type ResponseCodec, type StreamFormat } from './response.js';
import { grpcTranscodeSchema, type GrpcTranscodeConfig } from './schema.js';
import type protobuf from 'protobufjs';

/** What one entry compiles to: the loaded protos and the table of HTTP bindings, or why not. */
type Compiled =
  { ok: true; root: protobuf.Root; table: BindingTable; codecs: Map<Binding, ResponseCodec> } | { ok: false; issues: PolicyIssue[] };

// validate() and create() get the same parsed entry: its protos are read and compiled once for both.
const compiledFor = new WeakMap<GrpcTranscodeConfig, Compiled>();

function compile(config: GrpcTranscodeConfig, at: string): Compiled {
  const known = compiledFor.get(config);
  if (known !== undefined) return known;
  let out: Compiled;
  const loaded = loadProtos({ protos: config.protos, includePaths: config.includePaths, descriptorSet: config.descriptorSet });
  if (!loaded.ok) {
    out = {
      ok: false,
      issues: [{ path: `${at}.${config.descriptorSet !== undefined ? 'descriptorSet' : 'protos'}`, message: loaded.message }],
    };
  } else {
    const bound = compileBindings(loaded.root, config.services, config.rules);
    if (!bound.ok) out = { ok: false, issues: bound.errors.map((message) => ({ path: `${at}.services`, message })) };
    else {
      const root = loaded.root;
      const codecs = new Map<Binding, ResponseCodec>();
      for (const b of bound.table.bindings) {
        codecs.set(b, {
          toJson: (message) => messageToJson(b, message),
          errorJson: (code, message, details) => errorBody(root, code, message, details),
          httpStatus: httpStatusOf,
          serverStreaming: b.serverStreaming,
        });
      }
      out = { ok: true, root, table: bound.table, codecs };
    }
  }
  compiledFor.set(config, out);
  return out;
}

export const grpcTranscodePolicy = definePolicy({
  type: 'grpc-transcode',
  description:
    'Exposes gRPC methods as JSON/HTTP endpoints from the services’ protos (google.api.http rules): proto3 JSON both ways, gRPC errors as HTTP statuses with google.rpc.Status, server streams as NDJSON or server-sent events.',
  schema: grpcTranscodeSchema,
  phases: ['requestBody', 'upstreamRequest', 'responseBody'],
  order: 'transform',
  example: {
    protos: ['test/fixtures/echo.proto'],
    services: ['gatehouse.test.Echo'],
    rules: [{ selector: 'gatehouse.test.Echo.Unary', post: '/v1/echo', body: '*' }],
  },
  validate(config, _ctx, at) {
    const c = compile(config, at);
    return c.ok ? [] : c.issues;
  },
  create(config, env): Policy {
    const c = compile(config, env.routeName === undefined ? 'policies' : `route ${env.routeName}`);
    // Validation refused such an entry first: this is a config assembled without it.
    if (!c.ok) throw new Error(c.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    return new TranscodePolicy(config, c.table, c.codecs);
  },
});

/** What the request phases leave for the response: how to read the call's answer. */
interface Call {
  codec: ResponseCodec;
  format: StreamFormat;
}

const CALL = 'grpc-transcode';
/** The client's fields that describe its JSON request, not the gRPC call. */
const REPLACED = new Set(['content-type', 'content-encoding', 'accept', 'accept-encoding', 'grpc-accept-encoding', 'grpc-encoding']);

class TranscodePolicy implements Policy {
  readonly bodyBufferBytes: number;
  private readonly maxMessage: number;

  constructor(
    private readonly config: GrpcTranscodeConfig,
    private readonly table: BindingTable,
    private readonly codecs: Map<Binding, ResponseCodec>,
  ) {
    this.bodyBufferBytes = parseSize(config.maxRequestBody);
    this.maxMessage = parseSize(config.maxMessage);
  }

  /** A native gRPC call on the route is not transcoded: it streams as on any gRPC route. */
  readsBody(ctx: RequestContext): boolean {
    return !GRPC_CONTENT_TYPE.test(ctx.req.headers['content-type'] ?? '');
  }

  requestBody(ctx: RequestContext, body: RequestBody): Verdict {
    if (!this.readsBody(ctx)) return undefined;
    const path = this.unprefixed(ctx.path);
    if (path === undefined)
      return {
        status: 404,
        code: 'GW_ROUTE_NOT_FOUND',
        message: `No HTTP rule of this route's gRPC services matches ${ctx.method} ${ctx.path}.`,
      };
    const found = this.table.match(ctx.method, path);
    if (found.kind === 'none')
      return {
        status: 404,
        code: 'GW_ROUTE_NOT_FOUND',
        message: `No HTTP rule of this route's gRPC services matches ${ctx.method} ${ctx.path}.`,
      };
    if (found.kind === 'method-not-allowed')
      return { status: 405, code: 'GW_METHOD_NOT_ALLOWED', headers: { allow: found.allow.join(', ') } };
    const binding = found.binding;
    const built = buildRequest(binding, found.vars, ctx.query, body.body, body.contentType === '' ? undefined : body.contentType, {
      unknownFields: this.config.unknownFields,
    });
    if (!built.ok) return { status: built.status, code: 'GW_BAD_BODY', message: built.message };
    body.body = frame(built.bytes);
    ctx.upstreamTarget = { method: 'POST', path: binding.grpcPath };
    ctx.query = ''; // read into the message: a gRPC call's path has no query
    ctx.operation = { protocol: 'grpc', type: 'call', name: binding.grpcPath };
    const format: StreamFormat = binding.serverStreaming && wantsEvents(ctx) ? 'sse' : this.config.streamFormat;
    ctx.locals.set(CALL, { codec: this.codecs.get(binding)!, format } satisfies Call);
    return undefined;
  }

  /** The path the rules match: without `pathPrefix` (undefined when the path is not under it). */
  private unprefixed(path: string): string | undefined {
    const prefix = this.config.pathPrefix;
    if (prefix === undefined) return path;
    if (!path.startsWith(prefix) || (path.length > prefix.length && path[prefix.length] !== '/')) return undefined;
    return path.length === prefix.length ? '/' : path.slice(prefix.length);
  }

  upstreamRequest(ctx: RequestContext, headers: HeaderList): void {
    if (!ctx.locals.has(CALL)) return;
    for (let i = headers.length - 2; i >= 0; i -= 2) if (REPLACED.has(headers[i]!.toLowerCase())) headers.splice(i, 2);
    // The answer is read here, so it must come uncompressed (`te: trailers` is the h2 pool's: upstream/h2-pool.ts).
    headers.push('content-type', 'application/grpc', 'grpc-accept-encoding', 'identity');
  }

  responseBody(ctx: RequestContext): ResponseTransform | undefined {
    const call = ctx.locals.get(CALL) as Call | undefined;
    if (call === undefined) return undefined;
    return transcodedResponse(call.codec, call.format, this.maxMessage);
  }
}

/** A client that asks for server-sent events gets a server stream as events, whatever the default. */
function wantsEvents(ctx: RequestContext): boolean {
  const accept = ctx.req.headers.accept;
  return accept !== undefined && /(^|,)\s*text\/event-stream\b/i.test(accept);
}
