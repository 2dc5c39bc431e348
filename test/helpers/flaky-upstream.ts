// An upstream test server that can be told, at any moment, to fail, hang, reset connections or slow
// down — and whose health endpoint can be switched on its own. Counts the requests it receives.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Mode = 'ok' | 'fail' | 'hang' | 'reset' | 'slow';

export interface FlakyUpstream {
  name: string;
  url: string;
  /** Requests received, health checks excluded. */
  hits: number;
  healthHits: number;
  /** Remote ports the health probes came from (one per connection). */
  healthSources: Set<number>;
  mode: Mode;
  /** Status answered in `fail` mode. */
  failStatus: number;
  delayMs: number;
  /** Status of GET /health. */
  healthStatus: number;
  /** Bodies of the requests received. */
  bodies: string[];
  /** Answers every request held by `hang`. */
  releaseHung(): void;
  close(): Promise<void>;
}

export async function startFlaky(name: string): Promise<FlakyUpstream> {
  const hung: ServerResponse[] = [];
  const up: FlakyUpstream = {
    name,
    url: '',
    hits: 0,
    healthHits: 0,
    healthSources: new Set(),
    mode: 'ok',
    failStatus: 503,
    delayMs: 100,
    healthStatus: 200,
    bodies: [],
    releaseHung() {
      for (const res of hung.splice(0)) if (!res.destroyed) ok(res);
    },
    close: async () => {},
  };
  const ok = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name });
    res.end(name);
  };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') {
      up.healthHits++;
      up.healthSources.add(req.socket.remotePort!);
      res.writeHead(up.healthStatus, { 'content-length': '0' });
      res.end();
      return;
    }
    up.hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      up.bodies.push(Buffer.concat(chunks).toString());
      switch (up.mode) {
        case 'ok':
          return ok(res);
        case 'fail':
          res.writeHead(up.failStatus, { 'content-type': 'text/plain', 'x-served-by': name });
          return res.end(`${name} failed`);
        case 'hang':
          hung.push(res);
          return;
        case 'reset':
          req.socket.destroy();
          return;
        case 'slow':
          setTimeout(() => ok(res), up.delayMs);
          return;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  up.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return up;
}
