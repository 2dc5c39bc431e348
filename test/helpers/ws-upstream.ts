// A real WebSocket service for tests (the `ws` package on a node http server): echoes every
// message as it came (text or binary), keeps the handshake requests it accepted and the close
// codes it received. Some paths misbehave on purpose:
//   /deny/*        answers the handshake 403 with a body
//   /bad-accept/*  answers 101 with a wrong Sec-WebSocket-Accept
//   /silent/*      never answers the handshake
// Plain (non-upgrade) requests get 200 "plain <url>".
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WsUpstream {
  url: string;
  port: number;
  /** Handshakes that reached the service, in order. */
  handshakes: http.IncomingMessage[];
  /** Open connections on the service's side. */
  sockets: Set<WebSocket>;
  /** Close codes the service received, in order. */
  closes: number[];
  close(): Promise<void>;
}

export async function startWsUpstream(): Promise<WsUpstream> {
  const handshakes: http.IncomingMessage[] = [];
  const sockets = new Set<WebSocket>();
  const closes: number[] = [];
  const raw = new Set<Socket>();
  const server = http.createServer((req, res) => res.end(`plain ${req.url ?? ''}`));
  server.on('connection', (s: Socket) => {
    raw.add(s);
    s.once('close', () => raw.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    handshakes.push(req);
    const url = req.url ?? '';
    if (url.startsWith('/deny')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nx-service: said-no\r\n\r\nnot for you\r\n');
      return;
    }
    if (url.startsWith('/bad-accept')) {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: bm9wZQ==\r\n\r\n');
      return;
    }
    if (url.startsWith('/silent')) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('message', (data, binary) => ws.send(data, { binary }));
      ws.on('close', (code) => {
        closes.push(code);
        sockets.delete(ws);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    handshakes,
    sockets,
    closes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of raw) s.destroy();
        wss.close();
        server.close(() => r());
      }),
  };
}
