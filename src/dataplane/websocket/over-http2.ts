// WebSockets over HTTP/2 (RFC 8441). The listeners advertise SETTINGS_ENABLE_CONNECT_PROTOCOL; a
// client (Chrome and Firefox do when a server advertises it) then opens a WebSocket as a stream:
// HEADERS with :method CONNECT, :protocol websocket, :scheme, :path and :authority, and the frames
// of RFC 6455 in the stream's DATA both ways. Node's compatibility API hands every CONNECT to the
// HTTP/2 server's 'connect' event, on Node 20 and 24 alike (hub.ts takes it).
//
// The handshake is the HTTP/1.1 one's exchange (handshake.ts): routed as the GET it stands for
// (by :path and :authority), the same checks, access policies, identity headers, caps and upstream
// call — the service gets an ordinary HTTP/1.1 Upgrade. What differs:
//
//   - No Sec-WebSocket-Key comes from the client (RFC 8441 §5): the gateway makes one for the
//     service's handshake and checks the service's Sec-WebSocket-Accept against it; the
//     version, subprotocols and extensions pass through as on HTTP/1.1.
//   - The client is answered :status 200 (not 101), without Sec-WebSocket-Accept or any
//     connection-specific field; the stream is the client's side of the tunnel: END_STREAM is its
//     FIN, and a cut is RST_STREAM (CONNECT_ERROR after a failure, RFC 9113 §8.5; else CANCEL).
//   - Refusals end the stream, never the connection (its other streams are other requests), and
//     count their own bytes (the connection's are every stream's), as http2/exchange.ts does.
import http2, { type Http2ServerRequest, type Http2ServerResponse, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { CompiledRoute, Plan } from '../plan.js';
import type { Answer, ErrorAnswer } from '../respond.js';
import { removeHeader } from '../header-list.js';
import type { HeaderList } from '../../policies/types.js';
import type { RequestRecord } from '../../observability/request-record.js';
import { forHttp2, http2ResponseFinished, settleHttp2Request, withoutConnectionFields } from '../http2/exchange.js';
import { http2HandshakeProblem } from './handshake-checks.js';
import { WebSocketExchange, type SocketHost } from './handshake.js';
import type { Tunnel, TunnelEnd } from './tunnel.js';

const { NGHTTP2_CANCEL, NGHTTP2_CONNECT_ERROR } = http2.constants;
const NOTHING_EARLY = Buffer.alloc(0);
/** Fields of the service's 101 the client's 200 leaves out: HTTP/2 forbids them, or RFC 8441 has no use for them. */
const NOT_SENT = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'sec-websocket-accept',
]);

export class H2WebSocketExchange extends WebSocketExchange {
  private ownKey = '';
  /** What the gateway's answers and a service's refusal wrote on the stream (before a tunnel). */
  private bytesOut = 0;

  constructor(host: SocketHost, plan: Plan, req: Http2ServerRequest, res: Http2ServerResponse) {
    super(host, plan, req as unknown as IncomingMessage, res as unknown as ServerResponse, NOTHING_EARLY);
  }

  private get stream(): ServerHttp2Stream {
    return (this.req as unknown as Http2ServerRequest).stream;
  }

  protected override handshakeProblem(): ErrorAnswer | undefined {
    const scan = this.scan!;
    const bad = http2HandshakeProblem(this.req, scan);
    if (bad !== undefined) return bad;
    // An open stream read as a body of unknown length (http2/request.ts): here it is the connection.
    scan.transferEncoding = undefined;
    removeHeader(scan.forward, 'sec-websocket-key'); // meaningless over HTTP/2: never the one the service checks
    this.ownKey = randomBytes(16).toString('base64');
    scan.forward.push('sec-websocket-key', this.ownKey);
    return undefined;
  }

  protected override get key(): string {
    return this.ownKey;
  }

  /** :status 200 with the service's (and the policies') fields HTTP/2 allows; the stream is the client's side. */
  protected override answerClient(rawHeaders: Buffer[] | string[], route: CompiledRoute): TunnelEnd | undefined {
    const headers = this.upgradeHeaders(rawHeaders, route, 200);
    const out: OutgoingHttpHeaders = { ':status': 200 };
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      const value = headers[i + 1]!;
      if (NOT_SENT.has(name)) continue;
      validateHeaderName(name); // a policy's header must be a valid field
      validateHeaderValue(name, value);
      const prev = out[name];
      out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
    }
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return undefined; // its 'close' (the response's) ends the exchange
    stream.respond(out);
    this.status = 200;
    return stream;
  }

  protected override cutClient(t: Tunnel): void {
    const stream = this.stream;
    if (!stream.closed) stream.close(t.reason === 'error' ? NGHTTP2_CONNECT_ERROR : NGHTTP2_CANCEL);
  }

  // ---- answers other than the tunnel: as any HTTP/2 request's (http2/exchange.ts) ----

  override respond(a: Answer): void {
    super.respond(forHttp2(a));
    this.bytesOut += Number(this.res.getHeader('content-length')) || 0;
    settleHttp2Request(this.req as unknown as Http2ServerRequest);
  }

  protected override writeHead(status: number, headers: HeaderList): void {
    super.writeHead(status, withoutConnectionFields(headers));
  }

  protected override write(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    return super.write(chunk);
  }

  /** A service's refusal ended: the stream ends (Exchange's would close the connection, every stream's). */
  protected override endResponse(): void {
    settleHttp2Request(this.req as unknown as Http2ServerRequest);
    this.res.end();
  }

  protected override responseFinished(): boolean {
    // A tunnel's stream is never a response node ended: its close frames tell how it ended.
    return this.upgraded || http2ResponseFinished(this.res as unknown as Http2ServerResponse);
  }

  override record(): RequestRecord {
    const r = super.record();
    if (this.upgraded) return r; // the tunnel's bytes
    r.bytesIn = 0;
    r.bytesOut = this.bytesOut;
    return r;
  }
}
