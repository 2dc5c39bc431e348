// The request of a gRPC call that may be retried (`retries.grpcMethods`). gRPC sends no
// Content-Length, so readForReplay (request-body.ts) would stream it once; such a call's request
// is read whole up to the limit instead, and kept for another attempt only when it is exactly one
// message — a unary (or server-streaming) call. A larger body, or several messages (a client
// stream), is sent on without replay: a streamed request is never sent twice.
import type { IncomingMessage } from 'node:http';
import type { ScannedHeaders } from './forwarding.js';
import { readUpTo } from './request-body.js';
import { isOneGrpcMessage } from '../upstream/grpc-retry.js';

export type GrpcRead =
  { whole: Buffer; prefix?: undefined; replayable: boolean } | { whole?: undefined; prefix: Buffer[]; replayable: false };

/** The body's idle timeout was armed by readForReplay, which declined this body (it has no Content-Length). */
export function readGrpcForReplay(req: IncomingMessage, scan: ScannedHeaders, limit: number, done: (read: GrpcRead) => void): void {
  readUpTo(req, scan, limit, [], (read) =>
    done(
      read.whole !== undefined
        ? { whole: read.whole, replayable: isOneGrpcMessage(read.whole) }
        : { prefix: read.prefix, replayable: false },
    ),
  );
}
