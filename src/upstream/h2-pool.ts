// HTTP/2 connections to one upstream origin (`services.<name>.protocol: h2` over TLS, `h2c` over
// plain TCP), behind the same `dispatch(options, handler)` an undici Pool offers, so the upstream
// call (dataplane/upstream-call.ts) and everything above it — balancing, retries, breakers,
// passive health — work unchanged. Requests are multiplexed: a new stream goes on the first
// session with a free stream slot (as many as the peer's SETTINGS_MAX_CONCURRENT_STREAMS), and
// another connection is opened only when every session is full, up to `maxConnections`.
//
// Why not undici's own HTTP/2 client: it cannot send request trailers, and when the response's
// trailers arrive while the body is paused for backpressure it reports the response complete and
// drops the body still buffered (measured: 16 KB of 100 KB arrived). Both matter for gRPC.
// Errors are undici's error classes, so `failureKind` reads them as it reads undici's own.
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { ConnectionOptions } from 'node:tls';
import type { Readable } from 'node:stream';
import { errors, type Dispatcher } from 'undici';

export interface H2PoolSettings {
  connectTimeout: number;
  /** Sessions (TCP connections) at most. */
  maxConnections: number;
  /** A session without streams is closed after this long (ms). */
  keepAliveTimeout: number;
  /** TLS server name, when the origin is an address standing for an https:// host name. */
  servername?: string | undefined;
  /** More TLS options (tests: a CA). */
  tls?: ConnectionOptions;
}

/** A dispatch may name where the client request's trailers are, read once its body has ended. */
export interface H2DispatchOptions extends Dispatcher.DispatchOptions {
  trailerSource?: { readonly rawTrailers: readonly string[] } | undefined;
}

/** What the pool calls on the handler: undici's (legacy) handler methods, as UpstreamCall implements them. */
export interface H2Handler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(status: number, rawHeaders: string[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  /** Response trailers as [name, value, …] (empty: none). */
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
}

/** Until a peer's SETTINGS say otherwise (RFC 9113 §6.5.2 recommends at least 100). */
const ASSUMED_MAX_STREAMS = 100;
/** Request headers that are connection-specific (RFC 9113 §8.2.2): never sent on a stream. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

interface Session {
  readonly h2: ClientHttp2Session;
  ready: boolean;
  /** GOAWAY received or sent, or failed: no new streams. */
  closing: boolean;
  active: number;
  max: number;
  idle: NodeJS.Timeout | undefined;
}

export class H2Pool {
  private readonly sessions: Session[] = [];
  private readonly queue: H2Call[] = [];
  private closed = false;
  readonly scheme: 'http' | 'https';
  readonly authority: string;

  constructor(
    readonly origin: string,
    private readonly settings: H2PoolSettings,
  ) {
    const u = new URL(origin);
    this.scheme = u.protocol === 'https:' ? 'https' : 'http';
    this.authority = u.host;
  }

  dispatch(opts: H2DispatchOptions, handler: H2Handler): boolean {
    const call = new H2Call(this, opts, handler);
    if (this.closed) {
      call.fail(new errors.ClientClosedError());
      return false;
    }
    if (opts.upgrade != null && opts.upgrade !== false) {
      // An HTTP/1.1 upgrade (a WebSocket handshake) has no HTTP/2 form here (RFC 8441 is not spoken upstream).
      call.fail(new errors.InformationalError('an HTTP/2 upstream takes no protocol upgrade'));
      return false;
    }
    this.schedule(call);
    return true;
  }

  /** Streams in flight and sessions open (tests, diagnostics). */
  stats(): { sessions: number; active: number; queued: number } {
    return { sessions: this.sessions.length, active: this.sessions.reduce((n, s) => n + s.active, 0), queued: this.queue.length };
  }

  /** Graceful: no new requests; open sessions finish their streams, then close. */
  close(): Promise<void> {
    this.closed = true;
    this.failQueue(new errors.ClientClosedError());
    return Promise.all(this.sessions.map((s) => new Promise<void>((r) => (s.h2.closed ? r() : s.h2.close(() => r()))))).then(() => {});
  }

  destroy(): Promise<void> {
    this.closed = true;
    this.failQueue(new errors.ClientDestroyedError());
    for (const s of [...this.sessions]) s.h2.destroy();
    return Promise.resolve();
  }

  /** A call whose stream ended (or that left the queue): its slot is free. */
  release(s: Session): void {
    s.active--;
    this.drain();
    if (s.active === 0) this.armIdle(s);
  }

  /** A queued call gave up (aborted, timed out) before it got a stream. */
  unqueue(call: H2Call): void {
    const i = this.queue.indexOf(call);
    if (i !== -1) this.queue.splice(i, 1);
  }

  private schedule(call: H2Call): void {
    const s = this.available();
    if (s !== undefined) return this.start(s, call);
    this.queue.push(call);
    // Sessions still connecting will take up to ASSUMED_MAX_STREAMS each: another connection
    // only when the queue is larger than that, and the limit allows it.
    const connecting = this.sessions.filter((x) => !x.ready && !x.closing).length;
    if (this.queue.length > connecting * ASSUMED_MAX_STREAMS && this.sessions.length < this.settings.maxConnections) this.connect();
  }

  /** The first session with a free stream slot: requests fill one connection before the next. */
  private available(): Session | undefined {
    for (const s of this.sessions) if (s.ready && !s.closing && s.active < s.max) return s;
    return undefined;
  }

  private start(s: Session, call: H2Call): void {
    s.active++;
    clearTimeout(s.idle);
    s.idle = undefined;
    call.start(s);
  }

  /** A call whose stream was refused unprocessed: it waits for a slot again. */
  requeue(call: H2Call): void {
    if (this.closed) call.fail(new errors.ClientClosedError());
    else this.schedule(call);
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const s = this.available();
      if (s === undefined) return;
      this.start(s, this.queue.shift()!);
    }
  }

  private connect(): void {
    const { connectTimeout, servername, tls } = this.settings;
    const h2 = http2.connect(this.origin, {
      // The stream's idle timeout is the service's; window sizes larger than node's 64 KB default
      // let a fast upstream send without waiting for a WINDOW_UPDATE per 64 KB.
      settings: { enablePush: false, initialWindowSize: 1 << 20 },
      peerMaxConcurrentStreams: ASSUMED_MAX_STREAMS,
      ...(this.scheme === 'https' ? { ...tls, ALPNProtocols: ['h2'], ...(servername !== undefined ? { servername } : {}) } : {}),
    });
    const s: Session = { h2, ready: false, closing: false, active: 0, max: ASSUMED_MAX_STREAMS, idle: undefined };
    this.sessions.push(s);
    const timer = setTimeout(() => h2.destroy(new errors.ConnectTimeoutError()), connectTimeout);
    // Ready once the peer's first SETTINGS frame is here: until then its stream limit is unknown,
    // and streams over it would be refused.
    h2.on('remoteSettings', (st: http2.Settings) => {
      clearTimeout(timer);
      s.max = Math.max(1, Math.min(st.maxConcurrentStreams ?? ASSUMED_MAX_STREAMS, 1000));
      if (!s.ready) {
        s.ready = true;
        h2.setLocalWindowSize(4 << 20); // the connection's window: several streams at full speed
      }
      this.drain();
      if (s.active === 0) this.armIdle(s);
    });
    h2.on('goaway', () => (s.closing = true));
    h2.on('error', (err: Error) => {
      clearTimeout(timer);
      s.closing = true;
      // Could not connect: the calls waiting for it learn why (ECONNREFUSED, a TLS failure, the
      // connect timeout), unless another session can still take them.
      if (!s.ready && !this.sessions.some((x) => x !== s && !x.closing)) this.failQueue(err);
    });
    h2.once('close', () => {
      clearTimeout(timer);
      clearTimeout(s.idle);
      s.closing = true;
      const i = this.sessions.indexOf(s);
      if (i !== -1) this.sessions.splice(i, 1);
      if (this.queue.length > 0 && !this.closed && this.available() === undefined) this.connect();
    });
  }

  /** A session without streams closes after keepAliveTimeout (a GOAWAY, then the connection). */
  private armIdle(s: Session): void {
    if (s.closing) return;
    clearTimeout(s.idle);
    s.idle = setTimeout(() => {
      if (s.active > 0) return;
      s.closing = true;
      s.h2.close();
    }, this.settings.keepAliveTimeout);
    s.idle.unref();
  }

  private failQueue(err: Error): void {
    const waiting = this.queue.splice(0);
    for (const c of waiting) c.fail(err);
  }
}

/** One request on one stream (a second one if the first was refused unprocessed). */
class H2Call {
  private stream: ClientHttp2Stream | undefined;
  private headersTimer: NodeJS.Timeout | undefined;
  private responded = false;
  private requeued = false;
  private trailers: string[] | null = null;
  private done = false;

  constructor(
    private readonly owner: H2Pool,
    private readonly opts: H2DispatchOptions,
    private readonly handler: H2Handler,
  ) {
    handler.onConnect((err?: Error) => this.fail(err ?? new errors.RequestAbortedError()));
    const t = opts.headersTimeout ?? 0;
    if (t > 0 && !this.done) this.headersTimer = setTimeout(() => this.fail(new errors.HeadersTimeoutError()), t);
  }

  /** Opens the stream on `session`, whose slot the pool took for it (given back when the stream closes). */
  start(session: Session): void {
    const pool = this.owner;
    if (this.done) return pool.release(session);
    const { opts } = this;
    const body = opts.body as Buffer | Readable | null | undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = session.h2.request(requestHeaders(opts, pool), {
        endStream: body == null,
        waitForTrailers: body != null && opts.trailerSource !== undefined,
      });
    } catch (err) {
      // Headers node refuses (an invalid value a policy set): this request's fault, not the target's.
      pool.release(session);
      return this.fail(err as Error);
    }
    this.stream = stream;
    // Events of a stream this call has left (refused and sent again, or failed) are ignored.
    const mine = () => this.stream === stream && !this.done;
    stream.on('response', (headers, _flags, raw?: string[]) => {
      if (mine()) this.onResponse(Number(headers[':status']), raw);
    });
    stream.on('data', (chunk: Buffer) => {
      if (mine() && !this.handler.onData(chunk)) stream.pause();
    });
    stream.on('trailers', (_h, _f, raw?: string[]) => {
      if (mine()) this.trailers = raw === undefined ? [] : withoutPseudo(raw);
    });
    stream.on('end', () => {
      if (mine()) this.complete();
    });
    stream.on('wantTrailers', () => {
      const t = opts.trailerSource?.rawTrailers;
      stream.sendTrailers(t !== undefined && t.length > 0 ? trailerObject(t) : {});
    });
    stream.on('error', (err: Error) => {
      if (mine()) this.broke(stream, err);
    });
    stream.on('close', () => {
      pool.release(session);
      if (mine()) this.broke(stream, undefined);
    });
    if (body == null) return;
    if (Buffer.isBuffer(body)) {
      stream.end(body);
      return;
    }
    // The request body streams in with backpressure; its errors (a body over the limit) fail the call.
    body.on('error', (err: Error) => this.fail(err));
    body.pipe(stream);
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.headersTimer);
    if (this.stream === undefined) this.owner.unqueue(this);
    else if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
    this.handler.onError(err);
  }

  private onResponse(status: number, raw: string[] | undefined): void {
    if (this.done) return;
    clearTimeout(this.headersTimer);
    this.responded = true;
    const stream = this.stream!;
    const idle = this.opts.bodyTimeout ?? 0;
    if (idle > 0) stream.setTimeout(idle, () => this.fail(new errors.BodyTimeoutError()));
    if (!this.handler.onHeaders(status, raw === undefined ? [] : withoutPseudo(raw), () => stream.resume(), '')) stream.pause();
  }

  /** 'end': every DATA frame was read, so trailers that came while the body was paused follow it. */
  private complete(): void {
    if (this.done) return;
    if (!this.responded) return this.fail(new errors.SocketError('the upstream ended the stream without a response'));
    this.done = true;
    this.handler.onComplete(this.trailers);
  }

  /**
   * Why a stream failed, in undici's words. Before the response: the target did not serve it (a
   * refused stream, a GOAWAY, a reset or a lost connection) — `connect-error`, as a connection
   * reset before the response is for HTTP/1.1. After it: a broken response (`protocol`).
   */
  private streamError(stream: ClientHttp2Stream, err: Error | undefined): Error {
    const code = stream.rstCode;
    const why = err?.message ?? `the upstream reset the stream (code ${code})`;
    if (!this.responded) return new errors.SocketError(code === NGHTTP2_REFUSED_STREAM ? 'the upstream refused the stream' : why);
    return new errors.InformationalError(why);
  }

  /**
   * The stream failed. A stream the peer refused (REFUSED_STREAM: never processed, RFC 9113 §8.7)
   * is sent again once on another slot when its body can be sent again; else the call fails.
   */
  private broke(stream: ClientHttp2Stream, err: Error | undefined): void {
    const body = this.opts.body;
    if (stream.rstCode === NGHTTP2_REFUSED_STREAM && !this.responded && !this.requeued && (body == null || Buffer.isBuffer(body))) {
      this.requeued = true;
      this.stream = undefined;
      this.owner.requeue(this);
      return;
    }
    this.fail(this.streamError(stream, err));
  }
}

/**
 * The stream's header block: Host becomes :authority; connection-specific fields are left out, and
 * `te: trailers` is always sent — the gateway takes trailer fields (RFC 9113 §8.2.2 allows this one
 * TE value; gRPC servers require it).
 */
function requestHeaders(opts: H2DispatchOptions, pool: H2Pool): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': opts.method,
    ':scheme': pool.scheme,
    ':path': opts.path,
    ':authority': pool.authority,
    te: 'trailers',
  };
  const list = (opts.headers ?? []) as string[];
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    const value = list[i + 1]!;
    if (CONNECTION_SPECIFIC.has(name)) {
      if (name === 'host') out[':authority'] = value;
      continue;
    }
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  return out;
}

function withoutPseudo(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 58 /* : */) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

function trailerObject(list: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 58) continue;
    const prev = out[name];
    out[name] = prev === undefined ? list[i + 1]! : Array.isArray(prev) ? [...prev, list[i + 1]!] : [String(prev), list[i + 1]!];
  }
  return out;
}
