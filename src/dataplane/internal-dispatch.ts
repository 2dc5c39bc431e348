// A request to this gateway's own routes from inside it (a batch item): it runs the data plane's
// whole lifecycle — routing, policies, the upstream call, the response phases, the access log —
// as if a client had sent it, with no network port. An in-memory connection (a pair of duplex
// ends) is handed to a private http.Server that never listens but has the listeners' options and
// request handler; undici is the HTTP client on the other end. The server's end of the connection
// looks like the original client's: its peer address (so trusted proxies, ip-restriction and
// per-IP rate limits see the real client), whether it was encrypted, byte counters, and a marker
// (`isInternalSocket`) by which a batch route refuses a batch that itself came through here.
//
// One connection per request, closed when its response is read: nothing outlives a dispatch.
import { CONNECTION_FIELDS } from '../routes/fields.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { Client, errors as undiciErrors } from 'undici';
import type { InternalRequest, InternalResponse } from '../routes/types.js';
import { InternalDispatchError } from '../routes/dispatch-error.js';

export { InternalDispatchError };
import { applyServerLimits, serverOptions, type ServerLimits } from '../edge/server-limits.js';
import { onClientError } from './client-error.js';

const INTERNAL = Symbol('gatehouse.internal-dispatch');

/** The largest response body read when the caller gives no limit. */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** The request a dispatch came from (the exchange's own socket). */
export interface DispatchFrom {
  /** The peer address of the request that dispatches (the server end's `remoteAddress`). */
  remoteAddress: string;
  encrypted: boolean;
  /**
   * The local end of the request that dispatches: the listener's port decides whether a Host
   * with a port is the usual one (the cache key), so an item must see the same.
   */
  localAddress?: string | undefined;
  localPort?: number | undefined;
  /** That request itself arrived through a dispatch: refused (no recursion). */
  internal: boolean;
}

/** The request on this socket came through a dispatch. */
export function isInternalSocket(socket: unknown): boolean {
  return typeof socket === 'object' && socket !== null && (socket as Record<symbol, unknown>)[INTERNAL] === true;
}

/** Fields undici refuses (it frames the request itself) or that belong to one connection only. */
const CONNECTION = new Set(CONNECTION_FIELDS);

/**
 * One end of an in-memory connection. What one end writes the other reads, with backpressure (a
 * write waits while the reader's buffer is full). An end that closes gives the other an end of
 * stream after what it already got, as a TCP FIN would; with `allowHalfOpen: false` that end then
 * closes too, so both are gone once either is.
 */
class PipeEnd extends Duplex {
  peer!: PipeEnd;
  bytesRead = 0;
  bytesWritten = 0;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress = '127.0.0.1';
  localPort = 0;
  encrypted: boolean | undefined;
  /** The peer's write waiting for this end's reader to want more. */
  private waiting: (() => void) | undefined;
  private ended = false;

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // On a later tick, as from a network: never inside the writer's own call. Node's parser can
    // answer a bad request at once (client-error.ts); delivered within undici's write of that
    // request, the answer would come before undici counts the request as sent ("bad response").
    process.nextTick(() => this.deliver(chunk, cb));
  }

  private deliver(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer.ended || peer.destroyed) return cb(); // the other side is gone: dropped, as into a reset connection
    this.bytesWritten += chunk.length;
    peer.bytesRead += chunk.length;
    if (peer.push(chunk)) cb();
    else peer.waiting = cb;
  }

  override _read(): void {
    const cb = this.waiting;
    this.waiting = undefined;
    cb?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.eof();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.(); // the peer's pending write: what it wrote is lost with this end
    this.peer.eof();
    cb(err);
  }

  private eof(): void {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    this.push(null);
  }

  // What node's http server and undici call on a net.Socket. Timeouts stay off: the connection
  // lives for one request, which the dispatching caller bounds (its signal).
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  // Node's refusal of a malformed request (client-error.ts) writes its answer and then closes
  // as it would a net.Socket: after what is queued is written.
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }
  resetAndDestroy(): this {
    return this.destroy();
  }
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: familyOf(this.localAddress), port: this.localPort };
  }
}

function pipePair(): [PipeEnd, PipeEnd] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

function familyOf(address: string): string {
  return address.includes(':') ? 'IPv6' : 'IPv4';
}

export class InternalDispatcher {
  private server: http.Server | undefined;
  private readonly live = new Set<{ client: Client; ends: [PipeEnd, PipeEnd] }>();
  private closed = false;

  constructor(
    /** The plain listeners' request handler (the data plane's `handle`). */
    private readonly handler: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly limits: ServerLimits,
  ) {}

  /** Connections under way (tests: none once every dispatch has settled). */
  get open(): number {
    return this.live.size;
  }

  private ensureServer(): http.Server {
    if (this.server !== undefined) return this.server;
    // As a plain listener is made (dataplane.ts listen), but never listening: connections come
    // only from `dispatch`. Node's header/request timeout checks start on listen, so none run.
    const server = http.createServer(serverOptions(this.limits), this.handler);
    applyServerLimits(server, this.limits);
    const serverHeader = this.limits.serverHeader;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, serverHeader));
    return (this.server = server);
  }

  /** Runs `req` through the gateway as a client at `from` would send it; rejects with InternalDispatchError. */
  async dispatch(req: InternalRequest, from: DispatchFrom): Promise<InternalResponse> {
    if (this.closed) throw new InternalDispatchError('closed', 'the gateway is stopping');
    if (from.internal) throw new InternalDispatchError('nested', 'a request that came through a dispatch cannot dispatch');
    if (req.signal?.cancelled === true) throw new InternalDispatchError('aborted', 'aborted');
    // undici takes an AbortSignal (a batch item is no hot path: one controller per item).
    const abort = req.signal === undefined ? undefined : new AbortController();
    const off = abort === undefined ? undefined : req.signal!.onCancel(() => abort.abort());
    const signal = abort?.signal;
    const maxBody = req.maxBodyBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const headers = requestHeaders(req);

    const [serverEnd, clientEnd] = pipePair();
    serverEnd.remoteAddress = from.remoteAddress;
    serverEnd.remoteFamily = familyOf(from.remoteAddress);
    serverEnd.remotePort = 0;
    if (from.encrypted) serverEnd.encrypted = true;
    if (from.localAddress !== undefined) serverEnd.localAddress = from.localAddress;
    if (from.localPort !== undefined) serverEnd.localPort = from.localPort;
    (serverEnd as unknown as Record<symbol, boolean>)[INTERNAL] = true;
    clientEnd.remoteAddress = '127.0.0.1';
    // Errors on either end end the dispatch through undici or the server; never unhandled.
    serverEnd.on('error', () => {});
    clientEnd.on('error', () => {});

    let handed = false;
    const client = new Client('http://gatehouse.internal', {
      pipelining: 1,
      connect: (_opts, cb) => {
        if (handed) return process.nextTick(cb, new Error('one request per internal connection'), null);
        handed = true;
        this.ensureServer().emit('connection', serverEnd);
        // Later, as a socket connects: undici does not resume from a callback run within its call.
        process.nextTick(cb, null, clientEnd);
      },
    });
    const entry = { client, ends: [serverEnd, clientEnd] as [PipeEnd, PipeEnd] };
    this.live.add(entry);
    let answered = false;
    try {
      const res = await send(client, req, headers, maxBody, signal);
      answered = true;
      return res;
    } finally {
      this.live.delete(entry);
      off?.();
      // Closing the client ends its side: the server's end then sees the connection go away (an
      // exchange still running sees its client leave). After a whole answer nothing is pending:
      // close() is enough; destroy() aborts what a failure left.
      void (answered ? client.close() : client.destroy()).catch(() => {}); // not awaited: the answer is whole, the teardown is no part of it
      serverEnd.destroy();
    }
  }

  /** Stops every dispatch under way and refuses new ones (the data plane stops). */
  close(): void {
    this.closed = true;
    for (const { client, ends } of this.live) {
      void client.destroy().catch(() => {});
      for (const e of ends) e.destroy();
    }
    this.live.clear();
  }
}

function requestHeaders(req: InternalRequest): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const h = req.headers;
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (CONNECTION.has(name)) continue;
    const prev = out[name];
    out[name] = prev === undefined ? h[i + 1]! : Array.isArray(prev) ? [...prev, h[i + 1]!] : [prev, h[i + 1]!];
  }
  return out;
}

async function send(
  client: Client,
  req: InternalRequest,
  headers: Record<string, string | string[]>,
  maxBody: number,
  signal: AbortSignal | undefined,
): Promise<InternalResponse> {
  let res: Awaited<ReturnType<Client['request']>>;
  try {
    res = await client.request({
      method: req.method,
      path: req.target,
      headers,
      body: req.body,
      signal,
      responseHeaders: 'raw',
    });
  } catch (err) {
    throw failure(err, signal);
  }
  const raw = res.headers as unknown as (string | Buffer)[];
  const list: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) list.push(String(raw[i]), String(raw[i + 1]));
  let declared = 0;
  for (let i = 0; i < list.length; i += 2) if (list[i]!.toLowerCase() === 'content-length') declared = Number(list[i + 1]);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    if (declared > maxBody) throw tooLarge(maxBody);
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBody) throw tooLarge(maxBody);
      chunks.push(chunk);
    }
  } catch (err) {
    // Its destroy emits an AbortError of undici's: nothing else listens by now.
    res.body.on('error', () => {}).destroy();
    throw err instanceof InternalDispatchError ? err : failure(err, signal);
  }
  return { status: res.statusCode, headers: list, body: Buffer.concat(chunks, size) };
}

function tooLarge(max: number): InternalDispatchError {
  return new InternalDispatchError('too-large', `the response body is larger than ${max} bytes`);
}

function failure(err: unknown, signal: AbortSignal | undefined): InternalDispatchError {
  if (signal?.aborted || err instanceof undiciErrors.RequestAbortedError) return new InternalDispatchError('aborted', 'aborted');
  if (err instanceof undiciErrors.InvalidArgumentError) return new InternalDispatchError('invalid', err.message);
  return new InternalDispatchError('failed', err instanceof Error ? err.message : String(err));
}
