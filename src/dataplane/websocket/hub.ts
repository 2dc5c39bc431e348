// The data plane's WebSockets: the upgrade requests of every listener, each handshake run as an
// exchange (handshake.ts) on the plan current when it arrived, and the open connections — the
// caps per route and per consumer, the counters the metrics read, the close frames of a shutdown.
//
// Node hands an upgrade request to the 'upgrade' listener with the raw socket, outside its HTTP
// server: an answer is written on the socket as an ordinary response, and the socket then closed.
// Where node can be told which upgrades to take (`shouldUpgradeCallback`, Node 24.9 and later,
// detected), only WebSocket ones come here; elsewhere (Node 20) every upgrade does, and another
// protocol's (h2c …) is served as a plain request on a connection closed after it. A listener
// with `redirectHttps` redirects an upgrade as it does any request (308, then the socket closes).
//
// Over HTTP/2 (RFC 8441, over-http2.ts) a WebSocket is a CONNECT stream with :protocol websocket.
// Node's compatibility API gives every CONNECT to the server's 'connect' event (Node 20 and 24
// alike; without a listener it answers 405 itself): any other CONNECT is refused here with 405,
// as before — the gateway is not a forward proxy.
import http, { ServerResponse, type IncomingMessage } from 'node:http';
import type https from 'node:https';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Exchange } from '../exchange.js';
import { REFUSED } from '../exchange.js';
import type { CompiledRoute, Plan } from '../plan.js';
import { sendError, type ErrorAnswer } from '../respond.js';
import type { HttpsRedirect } from '../https-redirect.js';
import { settleHttp2Request } from '../http2/exchange.js';
import { findHeader } from '../header-list.js';
import type { ServerLimits } from '../../edge/server-limits.js';
import type { LoadShedder } from '../../edge/load-shedder.js';
import type { Logger } from '../../observability/logger.js';
import type { Tracer } from '../../observability/tracing/tracer.js';
import type { WebSocketRouteStats } from '../../observability/websocket-metrics.js';
import { asksForWebSocket } from './handshake-checks.js';
import { WebSocketExchange, type SocketHost } from './handshake.js';
import { H2WebSocketExchange } from './over-http2.js';
import type { Tunnel } from './tunnel.js';

/** What the hub needs of its data plane. */
export interface UpgradePlane {
  readonly draining: boolean;
  readonly timed: boolean;
  readonly limits: ServerLimits;
  readonly tracer: Tracer | undefined;
  readonly log: Logger;
  readonly shedder: LoadShedder;
  /** Requests in flight: a handshake is one until its 101. */
  inflight: number;
  /** Counts a new exchange in flight on the current plan (`completed` gives it back). */
  enter(): Plan;
  completed(ex: Exchange): void;
}

/** A listener as the hub sees it. */
export interface UpgradeListener {
  /** Serves its plain requests (the redirecting handler on a listener with `redirectHttps`). */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  readonly redirect: HttpsRedirect | undefined;
}

const CONNECT_REFUSED =
  'CONNECT is accepted only as a WebSocket handshake over HTTP/2 (:protocol websocket, RFC 8441); the gateway is not a forward proxy.';

let choosesUpgrades: boolean | undefined;

export class WebSocketHub implements SocketHost {
  private readonly tunnels = new Set<Tunnel>();
  /** Every client socket handed over with an upgrade, in its handshake or open: what a drain out of time cuts. */
  private readonly sockets = new Set<Socket>();
  private readonly routeOpen = new Map<string, number>();
  private readonly consumerOpen = new Map<string, number>();
  private readonly byRoute = new Map<string, WebSocketRouteStats>();

  constructor(private readonly plane: UpgradePlane) {}

  get draining(): boolean {
    return this.plane.draining;
  }
  get timed(): boolean {
    return this.plane.timed;
  }
  get limits(): ServerLimits {
    return this.plane.limits;
  }
  get tracer(): Tracer | undefined {
    return this.plane.tracer;
  }
  get log(): Logger {
    return this.plane.log;
  }

  /** Takes the upgrade requests of a listener. */
  attach(server: http.Server | https.Server, listener: UpgradeListener): void {
    choosesUpgrades ??= typeof (http.createServer() as { shouldUpgradeCallback?: unknown }).shouldUpgradeCallback === 'function';
    if (choosesUpgrades) (server as { shouldUpgradeCallback?: unknown }).shouldUpgradeCallback = wantsWebSocket;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head, listener));
  }

  /** Takes the CONNECT streams of a listener's HTTP/2 side. */
  attachHttp2(server: Http2Server, listener: UpgradeListener): void {
    server.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => this.connect(req, res, listener));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, listener: UpgradeListener): void {
    if (!(socket instanceof Socket)) return void socket.destroy(); // a listener's connections are sockets
    if (!this.sockets.has(socket)) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy()); // node took its own listeners off with the upgrade
    }
    // Pipelined behind a request the gateway refused: never served (the refusal closes the socket).
    if ((socket as unknown as Record<symbol, boolean>)[REFUSED]) return;
    // Pipelined behind a response still being written: wait for it (one response per socket at a time).
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight) return void inFlight.once('finish', () => this.upgrade(req, socket, head, listener));
    const res = socketResponse(req, socket);
    if (!asksForWebSocket(req.headers.upgrade)) return this.plain(req, res, listener);
    const plane = this.plane;
    if (plane.shedder.overloaded(plane.inflight)) {
      plane.shedder.shed++;
      if (plane.limits.serverHeader !== undefined) res.setHeader('server', plane.limits.serverHeader);
      return void sendError(res, 'GW_OVERLOADED', randomUUID(), { close: true, headers: { 'retry-after': plane.shedder.retryAfter } });
    }
    this.run(new WebSocketExchange(this, plane.enter(), req, res, head), listener);
  }

  /** A CONNECT stream: with :protocol websocket, a WebSocket handshake (over-http2.ts); else refused. */
  private connect(req: Http2ServerRequest, res: Http2ServerResponse, listener: UpgradeListener): void {
    const plane = this.plane;
    const protocol = req.headers[':protocol'];
    const serverHeader = plane.limits.serverHeader;
    if (typeof protocol !== 'string' || protocol.toLowerCase() !== 'websocket') {
      if (serverHeader !== undefined) res.setHeader('server', serverHeader);
      sendError(res as unknown as ServerResponse, 'GW_METHOD_NOT_ALLOWED', randomUUID(), { message: CONNECT_REFUSED });
      return settleHttp2Request(req);
    }
    if (plane.shedder.overloaded(plane.inflight)) {
      plane.shedder.shed++;
      if (serverHeader !== undefined) res.setHeader('server', serverHeader);
      sendError(res as unknown as ServerResponse, 'GW_OVERLOADED', randomUUID(), { headers: { 'retry-after': plane.shedder.retryAfter } });
      return settleHttp2Request(req);
    }
    // Routed, checked, logged and sent to the service as the GET of an HTTP/1.1 handshake.
    (req as { method: string }).method = 'GET'; // node's compatibility request lets :method be set
    this.run(new H2WebSocketExchange(this, plane.enter(), req, res), listener);
  }

  private run(ex: WebSocketExchange, listener: UpgradeListener): void {
    ex.listenerRedirect = listener.redirect;
    try {
      ex.run();
    } catch (err) {
      ex.crashed(err); // a throwing policy costs its handshake a 500, never the process
    }
  }

  /** Another protocol's upgrade, on a node that hands over every one: a plain request, then the connection closes. */
  private plain(req: IncomingMessage, res: ServerResponse, listener: UpgradeListener): void {
    const cl = findHeader(req.rawHeaders, 'content-length');
    if (findHeader(req.rawHeaders, 'transfer-encoding') !== undefined || (cl !== undefined && cl !== '0')) {
      // Node left the body of an upgrade request unread, and cannot be asked to read it now.
      const message = 'An Upgrade request other than WebSocket cannot carry a body here; send it without Upgrade.';
      return void sendError(res, 'GW_BAD_REQUEST', randomUUID(), { close: true, message });
    }
    listener.handler(req, res);
  }

  completed(ex: Exchange): void {
    // An open connection left the requests in flight at its 101 (opened): it comes back to leave them once.
    if (ex instanceof WebSocketExchange && ex.upgraded) this.plane.inflight++;
    this.plane.completed(ex);
  }

  reserve(route: CompiledRoute, consumer: string | undefined): ErrorAnswer | undefined {
    const ws = route.websocket!;
    const open = this.routeOpen.get(route.name) ?? 0;
    if (open >= ws.maxConnections) return { kind: 'error', code: 'GW_WEBSOCKET_ROUTE_LIMIT', headers: { 'retry-after': '1' } };
    if (consumer !== undefined) {
      // Counted whatever the cap, so that a reload that sets one finds the connections already open.
      const key = `${route.name}\u0000${consumer}`;
      const mine = this.consumerOpen.get(key) ?? 0;
      if (mine >= ws.maxConnectionsPerConsumer) return { kind: 'error', code: 'GW_WEBSOCKET_CONSUMER_LIMIT' };
      this.consumerOpen.set(key, mine + 1);
    }
    this.routeOpen.set(route.name, open + 1);
    return undefined;
  }

  release(route: CompiledRoute, consumer: string | undefined): void {
    decrement(this.routeOpen, route.name);
    if (consumer !== undefined) decrement(this.consumerOpen, `${route.name}\u0000${consumer}`);
  }

  counters(route: CompiledRoute): WebSocketRouteStats {
    const key = `${route.name}\u0000${route.service?.name ?? ''}`;
    let s = this.byRoute.get(key);
    if (s === undefined) {
      s = { route: route.name, service: route.service?.name ?? '', open: 0, opened: 0, closed: new Map(), bytesIn: 0, bytesOut: 0 };
      this.byRoute.set(key, s);
    }
    return s;
  }

  opened(route: CompiledRoute, tunnel: Tunnel): void {
    this.plane.inflight--; // an open connection is not a request in flight (load shedding counts those)
    this.tunnels.add(tunnel);
    const s = this.counters(route);
    s.open++;
    s.opened++;
    if (this.plane.draining) tunnel.goingAway('shutdown');
  }

  closed(route: CompiledRoute, tunnel: Tunnel): void {
    this.tunnels.delete(tunnel);
    const s = this.counters(route);
    s.open--;
    const reason = tunnel.reason ?? 'error';
    s.closed.set(reason, (s.closed.get(reason) ?? 0) + 1);
  }

  /** For the metrics, read when scraped. */
  stats(): Iterable<WebSocketRouteStats> {
    return this.byRoute.values();
  }

  /** Shutdown begins: every open connection gets its close frames (1001). */
  goingAway(): void {
    for (const t of this.tunnels) t.goingAway('shutdown');
  }

  /** The drain time is up (or an immediate stop): every upgraded socket is cut. */
  destroyAll(): void {
    for (const t of this.tunnels) t.destroy();
    for (const s of this.sockets) s.destroy();
  }
}

function wantsWebSocket(req: IncomingMessage): boolean {
  return asksForWebSocket(req.headers.upgrade);
}

/** A response written on a socket node has let go of; the socket is closed once it is sent. */
function socketResponse(req: IncomingMessage, socket: Socket): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.on('finish', () => socket.destroySoon());
  return res;
}

function decrement(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 1) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}
