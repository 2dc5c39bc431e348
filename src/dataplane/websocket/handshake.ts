// A WebSocket handshake is an exchange (exchange.ts) like any other request — target, route,
// client, the route's access policies, identity and forwarding headers, the upstream call with its
// balancer, health, breaker and retries — with four differences:
//
//   - the route must proxy WebSockets (else 400 GW_WEBSOCKET_NOT_ALLOWED), and the handshake must
//     be valid (GW_WEBSOCKET_BAD_HANDSHAKE), both checked before any policy runs;
//   - the route's and the consumer's connection caps are taken once the access phase passed;
//   - the upstream call asks the service to upgrade (undici writes Connection/Upgrade; the route's
//     handshakeTimeout bounds the wait for the 101);
//   - a valid 101 is relayed and the two sockets become a Tunnel; the exchange ends (one access-log
//     line, status 101) when the connection does.
//
// Anything the gateway answers instead, and a service's refusal (any status but 101), goes out as
// an ordinary HTTP response on the client's socket, which is then closed. The same handshake over
// HTTP/2 (RFC 8441's extended CONNECT) is a subclass: over-http2.ts.
import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Exchange, type ExchangeHost } from '../exchange.js';
import type { CompiledRoute, Plan } from '../plan.js';
import type { ErrorAnswer } from '../respond.js';
import type { HeaderList } from '../../policies/types.js';
import { callRoute, UpstreamCall } from '../upstream-call.js';
import { responseHeaders } from '../forwarding.js';
import { removeHeader } from '../header-list.js';
import type { RequestRecord } from '../../observability/request-record.js';
import { handshakeProblem, upstreamHandshakeProblem } from './handshake-checks.js';
import { Tunnel, type TunnelCounters, type TunnelEnd } from './tunnel.js';

/** What a handshake needs from the hub (hub.ts) that runs it, besides what every exchange does. */
export interface SocketHost extends ExchangeHost {
  /** Takes a place under the route's (and the consumer's) cap; the refusal when there is none. */
  reserve(route: CompiledRoute, consumer: string | undefined): ErrorAnswer | undefined;
  release(route: CompiledRoute, consumer: string | undefined): void;
  /** The live counters the tunnel adds its bytes to. */
  counters(route: CompiledRoute): TunnelCounters;
  /** The 101 went out: the connection is open. */
  opened(route: CompiledRoute, tunnel: Tunnel): void;
  closed(route: CompiledRoute, tunnel: Tunnel): void;
}

/** Response headers the gateway writes itself on a 101 (a policy's copies are not sent). */
const OWN_HEADERS = new Set(['connection', 'upgrade', 'content-length', 'transfer-encoding']);

export class WebSocketExchange extends Exchange {
  private tunnel: Tunnel | undefined;
  private reserved = false;
  private consumer: string | undefined;
  private over = false;
  /** The tunnel has ended: the exchange may end (an HTTP/2 response closes with its stream, before that). */
  private tunnelOver = false;

  constructor(
    private readonly host: SocketHost,
    plan: Plan,
    req: IncomingMessage,
    res: ServerResponse,
    /** What the client sent after its handshake (before the 101): forwarded first. */
    private readonly early: Buffer,
  ) {
    super(host, plan, req, res);
  }

  /** The connection is open (the 101 went out). */
  get upgraded(): boolean {
    return this.tunnel !== undefined;
  }

  protected override runAccess(route: CompiledRoute): void {
    if (route.websocket === undefined) return this.respond({ kind: 'error', code: 'GW_WEBSOCKET_NOT_ALLOWED' });
    const bad = this.handshakeProblem();
    if (bad !== undefined) return this.respond(bad);
    (this.context() as { websocket?: true }).websocket = true;
    super.runAccess(route);
  }

  /** What is wrong with the client's handshake (RFC 6455 §4.2.1), as its answer; undefined when nothing. */
  protected handshakeProblem(): ErrorAnswer | undefined {
    return handshakeProblem(this.req, this.scan!);
  }

  /** The Sec-WebSocket-Key the service's handshake carried: the client's own over HTTP/1.1. */
  protected get key(): string {
    return this.req.headers['sec-websocket-key']!;
  }

  /** After the access policies: the caps, then the upstream call asks for the upgrade. */
  protected override accessPassed(): void {
    const route = this.route!;
    const identity = this.context().identity;
    const consumer = identity === undefined ? undefined : (identity.consumerId ?? identity.username);
    const refused = this.host.reserve(route, consumer);
    if (refused !== undefined) return this.respond(refused);
    this.reserved = true;
    this.consumer = consumer;
    const call = (this.call = new UpstreamCall(this, callRoute(route), this.plane.log, {
      protocol: 'websocket',
      timeout: route.websocket!.handshakeTimeout,
    }));
    call.admit();
  }

  /** The service answered 101: checked, relayed, and the sockets piped. */
  upstreamUpgrade(_status: number, rawHeaders: Buffer[] | string[], upstream: Duplex): void {
    if (this.over || !(upstream instanceof Socket)) return void upstream.destroy(); // undici's are net (or TLS) sockets
    const route = this.route!;
    const problem = upstreamHandshakeProblem(rawHeaders, this.key, this.req.headers['sec-websocket-protocol']);
    if (problem !== undefined) {
      upstream.destroy();
      this.plane.log.warn(
        { requestId: this.requestId, route: route.name, target: this.call?.target?.url, problem },
        'websocket: invalid 101',
      );
      return this.respond({
        kind: 'error',
        code: 'GW_UPSTREAM_ERROR',
        message: `The service's WebSocket handshake is not valid: ${problem}.`,
      });
    }
    let client: TunnelEnd | undefined;
    try {
      client = this.answerClient(rawHeaders, route);
    } catch (err) {
      upstream.destroy();
      this.plane.log.error({ err, requestId: this.requestId, route: route.name }, 'response phase failed');
      return this.respond({ kind: 'error', code: 'GW_INTERNAL' });
    }
    // The client left while the service answered: its side's 'close' ends the exchange.
    if (client === undefined) return void upstream.destroy();
    const tunnel = (this.tunnel = new Tunnel(
      client,
      upstream,
      this.host.counters(route),
      () => {
        this.tunnelOver = true;
        this.finish();
      },
      (t) => this.cutClient(t),
    ));
    tunnel.start(this.early, route.websocket!.idleTimeout, route.websocket!.maxLifetime);
    this.host.opened(route, tunnel);
  }

  /**
   * Tells the client its connection is open, and gives its side of the tunnel (undefined: the
   * client has gone). HTTP/1.1: the 101 written on the socket, which leaves the response. Throws,
   * having sent nothing, when a header is invalid.
   */
  protected answerClient(rawHeaders: Buffer[] | string[], route: CompiledRoute): TunnelEnd | undefined {
    const head = this.switchingProtocols(this.upgradeHeaders(rawHeaders, route, 101));
    const client = this.req.socket;
    if (client.destroyed) return undefined; // res is still on it: its 'close' ends the exchange
    this.res.detachSocket(client); // from here the socket is the tunnel's; the exchange ends with it
    this.status = 101;
    client.write(head);
    return client;
  }

  /** Cuts the client's side of an open connection. */
  protected cutClient(t: Tunnel): void {
    t.client.destroy();
  }

  /**
   * The answer's headers: the service's less hop-by-hop ones, then the response policies' changes
   * (they see `status`, the one the client gets; a status change is ignored).
   */
  protected upgradeHeaders(raw: Buffer[] | string[], route: CompiledRoute, status: number): HeaderList {
    const headers = responseHeaders(raw, this.requestId);
    const serverHeader = this.plane.limits.serverHeader;
    if (serverHeader !== undefined) {
      removeHeader(headers, 'server');
      headers.push('server', serverHeader);
    }
    if (route.response.length) {
      const info = { status, headers };
      for (const p of route.response) p.response!(this.context(), info);
    }
    return headers;
  }

  /** The 101 for the client, raw. */
  private switchingProtocols(headers: HeaderList): string {
    let head = 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n';
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (OWN_HEADERS.has(name.toLowerCase())) continue;
      validateHeaderName(name); // a policy's header must not split the response
      validateHeaderValue(name, value);
      head += `${name}: ${value}\r\n`;
    }
    return head + '\r\n';
  }

  protected override finish(): void {
    if (this.over || (this.tunnel !== undefined && !this.tunnelOver)) return;
    this.over = true;
    super.finish();
    const route = this.route;
    if (route === undefined) return;
    if (this.tunnel !== undefined) this.host.closed(route, this.tunnel);
    if (this.reserved) this.host.release(route, this.consumer);
  }

  /** An open connection's line: bytes each way since the 101, and the close code. */
  override record(): RequestRecord {
    const r = super.record();
    const t = this.tunnel;
    if (t === undefined) return r;
    r.bytesIn = t.bytesIn;
    r.bytesOut = t.bytesOut;
    r.aborted = t.reason === 'error';
    r.closeCode = t.closeCode;
    return r;
  }
}
