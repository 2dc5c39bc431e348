// gRPC status → HTTP: the status code mapping of google/rpc/code.proto (as grpc-gateway applies
// it), and the error body in google.rpc.Status's proto3 JSON form, with the rich details of the
// grpc-status-details-bin trailer when the service sent one.
import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';

export { httpStatusOf } from '../../dataplane/grpc.js';

export interface ErrorBody {
  code: number;
  message: string;
  details: unknown[];
}

/**
 * The JSON error body. `grpcMessage` is the grpc-message header as on the wire (percent-encoded);
 * `detailsBin` the grpc-status-details-bin trailer (base64, padding optional). grpc-status and
 * grpc-message are authoritative: the trailer contributes only its details, and a trailer that
 * does not decode is ignored. Never throws.
 */
export function errorBody(root: protobuf.Root, grpcStatus: number, grpcMessage: string | undefined, detailsBin?: string): ErrorBody {
  return { code: grpcStatus, message: decodeGrpcMessage(grpcMessage ?? ''), details: detailsBin ? details(root, detailsBin) : [] };
}

/** grpc-message is percent-encoded UTF-8; an invalid escape is left as written (gRPC says so). */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Decode the valid escapes only: runs of %XX that form whole UTF-8 sequences.
    return raw.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

interface AnyMessage {
  type_url?: string;
  value?: Uint8Array;
}

function details(root: protobuf.Root, bin: string): unknown[] {
  const statusType = root.lookup('google.rpc.Status');
  const anyType = root.lookup('google.protobuf.Any');
  if (!(statusType instanceof protobuf.Type) || !(anyType instanceof protobuf.Type)) return [];
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(bin)) return [];
  let list: AnyMessage[];
  try {
    const status = statusType.decode(Buffer.from(bin, 'base64')) as unknown as { details?: AnyMessage[] };
    list = status.details ?? [];
  } catch {
    return [];
  }
  return list.map((any) => {
    try {
      return protojson.toJson(anyType, any) as unknown;
    } catch {
      // A type the protos do not define (or a value that does not decode as it): keep it opaque.
      const value = any.value ?? new Uint8Array();
      return { '@type': any.type_url ?? '', value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
    }
  });
}
