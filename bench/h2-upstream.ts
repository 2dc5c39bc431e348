// The HTTP/2 benchmark's service (bench/h2-compare.sh): one process answering the same 54-byte
// JSON body over h2c (prior knowledge, node's http2 server) on $H2_PORT and over HTTP/1.1 on
// $H1_PORT, so h2 straight to the service, h2 through Gatehouse to an h2c service and h2 through
// Gatehouse to an HTTP/1.1 service can be compared. Prints "h2 <port> h1 <port>" once listening.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from(JSON.stringify({ ok: true, service: 'upstream', id: 42, msg: 'hello' }));

const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
h2.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': BODY.length });
  stream.end(BODY);
});
const h1 = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
h1.keepAliveTimeout = 60_000;

const listen = (s: http.Server | http2.Http2Server, port: number) =>
  new Promise<number>((r) => s.listen(port, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
const h2Port = await listen(h2, Number(process.env.H2_PORT ?? 0));
const h1Port = await listen(h1, Number(process.env.H1_PORT ?? 0));
console.log(`h2 ${h2Port} h1 ${h1Port}`);
