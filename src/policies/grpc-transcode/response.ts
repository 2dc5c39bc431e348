// A transcoded call's answer: the service's gRPC response turned into JSON as it streams (a
// ResponseTransform). A unary call is answered once its trailers say how it went: the message as
// JSON (200), or the gRPC status as an HTTP status with a google.rpc.Status body. A server-streaming
// call sends each message as soon as it is whole, as a JSON line (NDJSON) or a server-sent event;
// a status that is not OK after the first message ends the stream with an error line or event
// (the head is gone by then).
import type { HeaderList, ResponseInfo, ResponseTransform } from '../types.js';
import { BodyRefusal } from '../types.js';
import { FrameError, FrameReader } from './frames.js';
import { findHeader } from '../../dataplane/header-list.js';

/** What the transform needs of the call's method, compiled from the protos. */
export interface ResponseCodec {
  /** The response message as proto3 JSON (with `response_body` applied); throws on a message it cannot decode. */
  toJson(message: Uint8Array): unknown;
  /** A gRPC status as google.rpc.Status in JSON (details from `grpc-status-details-bin` when present). */
  errorJson(code: number, message: string, detailsBin: string | undefined): unknown;
  /** The HTTP status for a gRPC status code. */
  httpStatus(code: number): number;
  readonly serverStreaming: boolean;
}

export type StreamFormat = 'ndjson' | 'sse';

/** gRPC's fields that say nothing to a JSON client (its content type, encodings, status). */
const GRPC_FIELDS = new Set([
  'content-type',
  'grpc-encoding',
  'grpc-accept-encoding',
  'grpc-status',
  'grpc-message',
  'grpc-status-details-bin',
]);

export function transcodedResponse(codec: ResponseCodec, format: StreamFormat, maxMessageBytes: number): ResponseTransform {
  const reader = new FrameReader(maxMessageBytes);
  let checked = false;
  let sent = 0;
  /** A unary call's message, kept until its trailers say it succeeded. */
  let unary: Buffer | undefined;

  const line = (json: unknown, event?: string): Buffer => {
    const text = JSON.stringify(json);
    if (format === 'ndjson') return Buffer.from(text + '\n');
    return Buffer.from(`${event !== undefined ? `event: ${event}\n` : ''}data: ${text}\n\n`);
  };

  const decode = (message: Buffer): unknown => {
    try {
      return codec.toJson(message);
    } catch (err) {
      throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `the service's response message cannot be read: ${(err as Error).message}`);
    }
  };

  const messages = (chunk: Buffer): Buffer[] => {
    try {
      return reader.push(chunk);
    } catch (err) {
      const e = err as FrameError;
      throw new BodyRefusal(
        e.tooLarge ? 'GW_UPSTREAM_BODY_TOO_LARGE' : 'GW_UPSTREAM_BODY_INVALID',
        `the service's gRPC response: ${e.message}`,
      );
    }
  };

  return {
    data(chunk, res) {
      if (!checked) {
        checkHead(res);
        checked = true;
      }
      const got = messages(chunk);
      if (got.length === 0) return undefined;
      if (!codec.serverStreaming) {
        if (unary !== undefined || got.length > 1)
          throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', 'the service sent more than one message for a unary call');
        unary = got[0];
        return undefined;
      }
      if (sent === 0) asJson(res, format === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream');
      const out = got.map((m) => line(decode(m)));
      sent += got.length;
      return out.length === 1 ? out[0] : Buffer.concat(out);
    },
    end(trailers, res) {
      if (!checked) checkHead(res);
      try {
        reader.end();
      } catch (err) {
        throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `the service's gRPC response: ${(err as Error).message}`);
      }
      // A trailers-only answer has its status in the head; any other, in the trailers.
      const status = statusOf(trailers) ?? statusOf(res.headers);
      if (status === undefined) throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', 'the service ended the call without a grpc-status');
      const ok = status.code === 0;
      if (!ok) {
        const error = codec.errorJson(status.code, status.message, status.details);
        if (sent === 0) {
          asJson(res, 'application/json');
          res.status = codec.httpStatus(status.code);
          return Buffer.from(JSON.stringify(error));
        }
        return format === 'ndjson' ? line({ error }) : line(error, 'error');
      }
      if (codec.serverStreaming) {
        if (sent === 0) asJson(res, format === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream');
        return undefined; // each message went out as it came
      }
      if (unary === undefined) throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', 'the service ended a unary call with OK and no message');
      asJson(res, 'application/json');
      return Buffer.from(JSON.stringify(decode(unary)));
    },
  };
}

/**
 * A gRPC answer is HTTP 200 with a gRPC content type, or a trailers-only answer (its grpc-status in
 * the head), whatever HTTP status a proxy on the way gave it: the grpc-status says how the call went,
 * as gRPC clients read it. Anything else is not one the transform can read.
 */
function checkHead(res: ResponseInfo): void {
  if (field(res.headers, 'grpc-status') !== undefined) return;
  const type = field(res.headers, 'content-type');
  if (res.status !== 200 || type === undefined || !/^application\/grpc(\+proto)?(;|$)/i.test(type.trim()))
    throw new BodyRefusal('GW_UPSTREAM_ERROR', `the service did not answer as gRPC (HTTP ${res.status}, content-type ${type ?? 'none'})`);
}

/** The head as a JSON client gets it: gRPC's own fields gone, the service's metadata kept. */
function asJson(res: ResponseInfo, contentType: string): void {
  const h = res.headers;
  for (let i = h.length - 2; i >= 0; i -= 2) if (GRPC_FIELDS.has(h[i]!.toLowerCase())) h.splice(i, 2);
  h.push('content-type', contentType);
  res.status = 200;
}

function field(headers: HeaderList | undefined, name: string): string | undefined {
  return headers === undefined ? undefined : findHeader(headers, name);
}

interface Status {
  code: number;
  message: string;
  details: string | undefined;
}

function statusOf(fields: HeaderList | undefined): Status | undefined {
  const raw = field(fields, 'grpc-status');
  if (raw === undefined) return undefined;
  const code = /^\d{1,2}$/.test(raw.trim()) ? Number(raw.trim()) : 2; // malformed: UNKNOWN, as gRPC clients read it
  return { code, message: field(fields, 'grpc-message') ?? '', details: field(fields, 'grpc-status-details-bin') };
}
