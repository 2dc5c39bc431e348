// Retrying gRPC calls (`retries.grpcMethods`, `retries.grpcStatuses`): which calls may be sent
// again, and whether a response is a refusal to retry. A gRPC server that refuses a call before
// any message (UNAVAILABLE while it shuts down, say) answers trailers-only: HTTP 200 whose header
// block carries grpc-status. Such an answer has relayed nothing yet, so another target may take
// the call. A status that comes in the trailers, after messages, is never retried.
import { GRPC_CONTENT_TYPE } from '../config/grpc-match.js';

export interface GrpcRetrySettings {
  /** Method paths (`/pkg.Service/Get`) whose calls may be retried. */
  methods: ReadonlySet<string>;
  /** grpc-status numbers retried when they come trailers-only. */
  statuses: ReadonlySet<number>;
}

/** Whether this request is a call of a gRPC method the config lets be retried. */
export function retryableGrpcCall(
  settings: GrpcRetrySettings | undefined,
  method: string | undefined,
  url: string | undefined,
  contentType: string | undefined,
): boolean {
  if (settings === undefined || settings.methods.size === 0 || method !== 'POST' || url === undefined) return false;
  if (contentType === undefined || !GRPC_CONTENT_TYPE.test(contentType)) return false;
  const q = url.indexOf('?');
  return settings.methods.has(q === -1 ? url : url.slice(0, q));
}

/** The grpc-status of a response head (undici's raw header list), when it has one: a trailers-only answer. */
export function headGrpcStatus(rawHeaders: readonly (Buffer | string)[]): number | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 11 || name.toString().toLowerCase() !== 'grpc-status') continue;
    const value = rawHeaders[i + 1]!.toString().trim();
    return /^\d{1,2}$/.test(value) ? Number(value) : undefined;
  }
  return undefined;
}

/** A request body that is exactly one uncompressed-or-compressed gRPC message: a unary (or server-streaming) call's. */
export function isOneGrpcMessage(body: Buffer): boolean {
  return body.length >= 5 && (body[0] === 0 || body[0] === 1) && body.readUInt32BE(1) === body.length - 5;
}

/** A trailers-only gRPC answer (its head holds grpc-status) whose status `retries.grpcStatuses` lists. */
export function listedGrpcStatus(settings: GrpcRetrySettings | undefined, rawHeaders: readonly (Buffer | string)[]): boolean {
  const status = headGrpcStatus(rawHeaders);
  return status !== undefined && settings !== undefined && settings.statuses.has(status);
}
