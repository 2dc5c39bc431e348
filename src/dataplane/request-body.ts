// How the client's request body reaches the upstream. It is settled before the upstream call is
// admitted — a small one that may have to be replayed is read whole, so that a slow uploader never
// holds a concurrency slot or the breaker's half-open probe — and anything else streams through
// once, a chunked body counted against the route's limit as it goes.
import type { IncomingMessage } from 'node:http';
import http2, { type Http2ServerRequest } from 'node:http2';
import type { Readable } from 'node:stream';
import { BodyLimit } from '../edge/body-limit.js';
import type { ScannedHeaders } from './forwarding.js';

export function hasBody(scan: ScannedHeaders): boolean {
  return scan.transferEncoding !== undefined || (scan.contentLength !== undefined && scan.contentLength !== '0');
}

/**
 * Reads a body of at most `replayLimit` bytes (by Content-Length) whole and hands it to `done`;
 * false when the body is not read here (chunked, larger, or no replay wanted: limit -1). Either
 * way the socket's idle timeout is armed while the body streams in.
 */
export function readForReplay(
  req: IncomingMessage,
  scan: ScannedHeaders,
  idleTimeout: number,
  replayLimit: number,
  done: (body: Buffer) => void,
): boolean {
  armBodyTimeout(req, idleTimeout);
  if (scan.transferEncoding !== undefined || !(Number(scan.contentLength) <= replayLimit)) return false;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => done(Buffer.concat(chunks)));
  return true;
}

/** What a bounded read got: the whole body, or (larger than the bound) the chunks read so far. */
export type BoundedRead = { whole: Buffer; prefix?: undefined } | { whole?: undefined; prefix: Buffer[] };

/**
 * Reads the body up to `limit` bytes, after `prefix` (chunks an earlier read took): `done` gets
 * the whole body, or — past the bound, or by a Content-Length over it before reading — what was
 * read, with `req` paused so that the rest can still be streamed or refused.
 */
export function readUpTo(
  req: IncomingMessage,
  scan: ScannedHeaders,
  limit: number,
  prefix: readonly Buffer[],
  done: (read: BoundedRead) => void,
): void {
  const chunks = [...prefix];
  let size = 0;
  for (const c of chunks) size += c.length;
  if (size > limit || (scan.transferEncoding === undefined && Number(scan.contentLength) > limit)) return done({ prefix: chunks });
  const onData = (c: Buffer): void => {
    chunks.push(c);
    size += c.length;
    if (size <= limit) return;
    req.off('data', onData);
    req.off('end', onEnd);
    req.pause();
    done({ prefix: chunks });
  };
  const onEnd = (): void => done({ whole: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
  req.on('data', onData);
  req.once('end', onEnd);
  if (prefix.length > 0) req.resume(); // an earlier read left it paused
}

/** The body's idle timeout (`server.bodyIdleTimeout`), disarmed when it has all arrived. */
export function armBodyTimeout(req: IncomingMessage, idleTimeout: number): void {
  if (idleTimeout <= 0) return;
  if (req.httpVersionMajor === 2) {
    // The stream's own timer: the connection's belongs to every stream on it
    // (http2/session-guard.ts). Node only emits 'timeout' on an HTTP/2 stream (it destroys a
    // socket, not a stream): the stream is reset here.
    req.setTimeout(idleTimeout, () => resetStream(req as unknown as Http2ServerRequest));
    req.once('end', disarmStreamTimeout);
  } else {
    // Node destroys the socket when it fires.
    req.socket.setTimeout(idleTimeout);
    req.once('end', disarmIdleTimeout);
  }
}

/**
 * The body as it streams upstream: a Content-Length body was checked against the limit up front
 * (request-size-limit); a chunked one is counted as it streams and cut off past `maxBodyBytes`.
 */
export function streamedBody(req: Readable, scan: ScannedHeaders, maxBodyBytes: number): Readable {
  return scan.transferEncoding !== undefined && maxBodyBytes !== Infinity ? req.pipe(new BodyLimit(maxBodyBytes)) : req;
}

function disarmIdleTimeout(this: IncomingMessage): void {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- typed non-null, but node detaches it (null) once the response is done
  this.socket?.setTimeout(0);
}

function resetStream(req: Http2ServerRequest): void {
  const stream = req.stream;
  if (!stream.closed && stream.state.remoteClose !== 1) stream.close(http2.constants.NGHTTP2_CANCEL);
}

function disarmStreamTimeout(this: IncomingMessage): void {
  this.setTimeout(0);
}
