// The active check of a gRPC service (`healthCheck.active.type: grpc`): the standard
// `grpc.health.v1.Health/Check` call over HTTP/2 (h2 or h2c, the service's protocol). Healthy when
// the call ends with grpc-status 0 and the answer says SERVING.
//
// The two messages are tiny and fixed, so they are encoded by hand (protobuf wire format):
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3
// Undici's HTTP/2 client drops response trailers (where grpc-status travels), so node:http2 is used.
import http2 from 'node:http2';
import { isIP } from 'node:net';

/** What a probe found (active-checker.ts's ProbeResult, kept apart so neither file imports the other's). */
export type ProbeResult = { ok: true } | { ok: false; reason: string };

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
/** The largest answer read: a HealthCheckResponse is a few bytes. */
const MAX_ANSWER = 16 * 1024;
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** A HealthCheckRequest for `service` ("" asks about the server as a whole), as one uncompressed gRPC message. */
export function encodeHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const field = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5 + field.length);
  frame.writeUInt32BE(field.length, 1); // byte 0: not compressed
  field.copy(frame, 5);
  return frame;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The `status` of a HealthCheckResponse body (the gRPC frame around it included), or an error text. */
export function decodeHealthResponse(body: Buffer): number | string {
  if (body.length < 5) return 'no message in the answer';
  if (body[0] !== 0) return 'the answer is compressed';
  const len = body.readUInt32BE(1);
  if (body.length !== 5 + len) return 'the answer is not one whole message';
  let status = 0; // proto3: an absent field is its zero value
  let at = 5;
  const end = body.length;
  const readVarint = (): number | undefined => {
    let v = 0;
    // Up to 10 bytes (64 bits): a negative int32 or a large int64 field is that long, and an
    // unknown one must be skipped, not refused. Past 2^53 the value is inexact, which only a
    // skipped field or a status that is not SERVING anyway can be.
    for (let shift = 0; shift < 70 && at < end; shift += 7) {
      const b = body[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    return undefined;
  };
  while (at < end) {
    const key = readVarint();
    if (key === undefined) return 'a malformed message';
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = readVarint();
      if (v === undefined) return 'a malformed message';
      if (field === 1) status = v;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const n = readVarint();
      if (n === undefined) return 'a malformed message';
      at += n;
    } else return 'a malformed message';
    if (at > end) return 'a malformed message';
  }
  return status;
}

/**
 * h2 over TLS: ALPN h2, and the certificate checked for the configured host name (an expanded
 * member's origin is an address; an address is no server name).
 */
function tlsOptions(authority: string): http2.SecureClientSessionOptions {
  const hostname = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.replace(/:\d+$/, '');
  return isIP(hostname) === 0 ? { ALPNProtocols: ['h2'], servername: hostname } : { ALPNProtocols: ['h2'] };
}

/** One Health/Check call to `origin`; `signal` ends it (the checker's timeout). */
export function grpcHealthProbe(origin: string, authority: string, service: string, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const session = http2.connect(origin, origin.startsWith('https:') ? tlsOptions(authority) : {});
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      session.destroy();
      resolve(r);
    };
    const onAbort = (): void => done({ ok: false, reason: 'aborted' });
    signal.addEventListener('abort', onAbort);
    session.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: `active check failed: ${err.code ?? err.message}` }));
    const stream = session.request({
      ':method': 'POST',
      ':path': HEALTH_CHECK_PATH,
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': 'identity',
      'user-agent': 'gatehouse-health-check',
    });
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const readStatus = (h: http2.IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (typeof s === 'string') {
        grpcStatus = s;
        const m = h['grpc-message'];
        grpcMessage = typeof m === 'string' ? m : undefined;
      }
    };
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      readStatus(h); // a trailers-only answer carries the status in its headers
    });
    stream.on('trailers', readStatus);
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER) return done({ ok: false, reason: 'active check answer too large' });
      chunks.push(c);
    });
    stream.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: `active check failed: ${err.code ?? err.message}` }));
    stream.on('end', () => {
      if (httpStatus !== 200) return done({ ok: false, reason: `active check answered ${httpStatus}` });
      if (grpcStatus === undefined) return done({ ok: false, reason: 'active check answer has no grpc-status' });
      if (grpcStatus !== '0')
        return done({ ok: false, reason: `active check grpc-status ${grpcStatus}${grpcMessage ? ` (${grpcMessage.slice(0, 100)})` : ''}` });
      const status = decodeHealthResponse(Buffer.concat(chunks));
      if (typeof status === 'string') return done({ ok: false, reason: `active check: ${status}` });
      if (status !== 1) return done({ ok: false, reason: `active check: ${STATUS_NAMES[status] ?? `status ${status}`}` });
      done({ ok: true });
    });
    stream.end(encodeHealthRequest(service));
  });
}
