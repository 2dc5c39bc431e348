// HTTP/2 on a listener. The listening server stays the node http.Server (plain) or https.Server
// (TLS) that serves HTTP/1.1, with every limit and timer it had; an HTTP/2 connection is taken
// from it before its HTTP/1.1 parser sees a byte and handed to an internal http2 server (never
// listening itself) by `emit('connection', socket)`:
//
// - TLS: by ALPN — the connection's 'secureConnection' is looked at, and `alpnProtocol === 'h2'`
//   goes to HTTP/2. (Not http2.createSecureServer with allowHTTP1: on Node 20 its HTTP/1.1 side
//   ignores maxHeaderSize, never times out slow headers and has no keep-alive timeout.)
// - Plain with `listen[].http2: true`: by the first bytes — the HTTP/2 connection preface
//   ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RFC 9113 §3.4) is HTTP/2 with prior knowledge (h2c),
//   anything else HTTP/1.1 on the same port, as nginx and Envoy do. The bytes read to decide are
//   put back (unshift) for whichever protocol takes the socket.
//
// Every session is guarded (session-guard.ts): stream and header limits in its SETTINGS, the
// early-reset guard, an idle timeout, a request budget, and GOAWAY on drain.
import http2, { type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse, Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerLimits } from '../../edge/server-limits.js';
import type { Logger } from '../../observability/logger.js';
import { guardSession } from './session-guard.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export class Http2Listener {
  /** The HTTP/2 side: 'request' runs the data plane's handler. */
  readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  /** Plain connections whose first bytes have not told the protocol yet. */
  private readonly undecided = new Set<Socket>();
  private draining = false;
  /** Sessions closed by the early-reset guard (tests, logs). */
  refused = 0;

  constructor(
    listening: HttpServer,
    tls: boolean,
    private readonly limits: ServerLimits,
    handler: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly log: Logger,
  ) {
    const h2 = limits.http2;
    this.server = http2.createServer(
      {
        settings: {
          maxConcurrentStreams: h2.maxConcurrentStreams,
          maxHeaderListSize: h2.maxHeaderListSize,
          enablePush: false,
          enableConnectProtocol: true, // RFC 8441: WebSockets over HTTP/2 (websocket/over-http2.ts)
        },
        maxHeaderListPairs: h2.maxHeaderListPairs,
      },
      // The data plane's handler serves both: the core reads what node's compatibility API offers
      // in both forms, and tells HTTP/2 requests apart by their version (http2/exchange.ts).
      handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
    );
    this.server.on('session', (session: ServerHttp2Session) => this.opened(session));
    // A session's own error (a protocol violation, a flood node's limits caught) ends only that session.
    this.server.on('sessionError', () => {});
    if (tls) {
      intercept(listening, 'secureConnection', (socket, http1) => {
        if ((socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2') this.take(socket);
        else http1();
      });
    } else {
      const timeout = limits.headersTimeout;
      intercept(listening, 'connection', (socket, http1) => {
        this.undecided.add(socket);
        sniff(socket, timeout, (isH2) => {
          this.undecided.delete(socket);
          if (isH2) this.take(socket);
          else if (!socket.destroyed) http1();
        });
      });
    }
  }

  /** Sessions open now. */
  get open(): number {
    return this.sessions.size;
  }

  /** Drain: every session gets GOAWAY; streams under way finish, then its connection closes. */
  goAway(): void {
    this.draining = true;
    for (const s of this.sessions) if (!s.closed) s.close();
    for (const socket of this.undecided) socket.destroy(); // no request yet: nothing to finish
  }

  /** Cuts every session (the end of a drain that timed out; an immediate stop). */
  destroyAll(): void {
    this.draining = true;
    for (const s of this.sessions) s.destroy();
    for (const socket of this.undecided) socket.destroy();
  }

  private take(socket: Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    // http.Server's sockets are half-open (allowHalfOpen: its HTTP/1.1 side ends them itself);
    // node's http2 sessions never look at a FIN, so a client's end would leave the session — and
    // every stream's upstream call or tunnel — open. As on http2's own servers: a FIN ends the socket.
    socket.allowHalfOpen = false;
    this.server.emit('connection', socket);
  }

  private opened(session: ServerHttp2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    const peer = session.socket.remoteAddress; // read now: a destroyed session has no socket
    guardSession(session, this.limits, () => {
      this.refused++;
      this.log.warn(
        { peer, limit: this.limits.http2.maxEarlyResets },
        'HTTP/2 connection closed: its client reset most of its streams before their response (rapid reset)',
      );
    });
    if (this.draining) session.close();
  }
}

/**
 * Puts `listener` in front of the server's own handler for `event` ('connection' or
 * 'secureConnection'): it may take the socket, or call `http1()` to hand it to the server as before.
 */
function intercept(server: HttpServer, event: string, listener: (socket: Socket, http1: () => void) => void): void {
  const own = server.listeners(event) as ((socket: Socket) => void)[];
  server.removeAllListeners(event);
  server.on(event, (socket: Socket) =>
    listener(socket, () => {
      for (const l of own) l.call(server, socket);
    }),
  );
}

/**
 * Reads until the bytes either are the HTTP/2 preface or cannot be, then puts them back and
 * tells `decide`. A client that sends nothing decisive within `timeoutMs` is dropped (the HTTP/1.1
 * parser's header timeout only starts once it has the socket).
 */
function sniff(socket: Socket, timeoutMs: number, decide: (isH2: boolean) => void): void {
  let seen: Buffer | undefined;
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const done = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onClose);
  };
  // A socket that goes before it decided: nobody takes it (decide(false) on a destroyed socket is a no-op).
  const onError = () => {
    done();
    decide(false);
  };
  const onClose = onError;
  const onData = (chunk: Buffer) => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const prefix = seen.compare(PREFACE, 0, n, 0, n) === 0;
    if (prefix && seen.length < PREFACE.length) return; // "PRI * HT…" so far: wait for the rest
    done();
    socket.pause();
    socket.unshift(seen);
    decide(prefix);
    // Whoever took the socket reads it from here on (node's parsers read the handle directly;
    // the bytes put back are read from the stream first).
    process.nextTick(() => socket.resume());
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
}
