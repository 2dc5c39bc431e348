// Real upstream servers for tests: listen on 127.0.0.1:0 and count what reaches them.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
}

export interface Upstream {
  url: string;
  port: number;
  hits: number;
  seen: SeenRequest[];
  server: http.Server;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Default: answers 200 with a JSON echo of what it received. */
export const echo: UpstreamHandler = (req, res) => {
  const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

export async function startUpstream(handler: UpstreamHandler = echo): Promise<Upstream> {
  const up = { hits: 0, seen: [] as SeenRequest[] } as Upstream;
  const server = http.createServer((req, res) => {
    up.hits++;
    up.seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(up, {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
}
