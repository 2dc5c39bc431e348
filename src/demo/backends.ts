// Small demo services for the quickstart and examples: each answers JSON describing the
// request it received, so you can see exactly what the gateway forwarded.
import http from 'node:http';

export interface DemoBackend {
  name: string;
  port: number;
  close(): Promise<void>;
}

export function startDemoBackend(name: string, port: number, host = '127.0.0.1'): Promise<DemoBackend> {
  const server = http.createServer((req, res) => {
    const body =
      JSON.stringify(
        {
          service: name,
          port,
          method: req.method,
          path: req.url,
          headers: {
            host: req.headers.host,
            'x-forwarded-for': req.headers['x-forwarded-for'],
            'x-forwarded-host': req.headers['x-forwarded-host'],
            'x-request-id': req.headers['x-request-id'],
            via: req.headers.via,
          },
        },
        null,
        2,
      ) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        name,
        port,
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
