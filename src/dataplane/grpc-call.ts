// What the gateway keeps of one gRPC call (a request whose content-type is gRPC: grpc.ts) while it
// runs: its operation (`/pkg.Service/Method`, for ctx.operation, the access log and metrics), its
// deadline (`grpc-timeout`) and the grpc-status its response carried. The gateway knows no protos:
// it cannot tell the four shapes apart, so the operation's type is "call".
import type { IncomingMessage } from 'node:http';
import { operationName, type RequestOperation } from '../observability/request-record.js';
// A deadline past a timer's longest wait (grpc-timeout reaches 99 999 999 hours) is no deadline in practice.
import { MAX_TIMER_MS } from '../config/units.js';
import { parseGrpcTimeout } from './grpc.js';

/** A gRPC method path: `/` service `/` method, nothing else. */
const METHOD_PATH = /^\/[^/?#]+\/[^/?#]+$/;

export class GrpcCall {
  readonly operation: RequestOperation;
  /** The call's deadline in ms from its arrival; undefined: none; NaN: grpc-timeout was malformed. */
  readonly timeoutMs: number | undefined;
  /** The grpc-status the response carried (or the gateway's own answer); undefined until one is seen. */
  status: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(req: IncomingMessage, path: string) {
    this.operation = { protocol: 'grpc', type: 'call', name: METHOD_PATH.test(path) ? operationName(path) : undefined };
    const raw = req.headers['grpc-timeout'];
    this.timeoutMs = raw === undefined ? undefined : (parseGrpcTimeout(Array.isArray(raw) ? raw[0]! : raw) ?? Number.NaN);
  }

  get badTimeout(): boolean {
    return Number.isNaN(this.timeoutMs);
  }

  /** Arms the deadline: `expired` runs once when it passes, unless the call ended (`stop`) before. */
  arm(expired: () => void): void {
    const ms = this.timeoutMs;
    if (ms === undefined || Number.isNaN(ms) || ms > MAX_TIMER_MS) return;
    this.timer = setTimeout(expired, Math.ceil(ms));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reads grpc-status from a header or trailer list ([name, value, …]) when it has one. */
  readStatus(fields: readonly (Buffer | string)[] | null | undefined): void {
    const n = grpcStatusIn(fields);
    if (n !== undefined) this.status = n;
  }
}

/** The grpc-status in a header or trailer list ([name, value, …]); undefined when none is valid. */
export function grpcStatusIn(fields: readonly (Buffer | string)[] | null | undefined): number | undefined {
  if (fields == null) return undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (name.length === 11 && name.toString().toLowerCase() === 'grpc-status') {
      const text = fields[i + 1]!.toString();
      const n = Number(text);
      return /^[0-9]{1,2}$/.test(text) ? n : undefined;
    }
  }
  return undefined;
}
