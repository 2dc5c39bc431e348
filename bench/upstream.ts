// The benchmark's upstream: a bare node:http server on 127.0.0.1, forked by bench/run.ts with an
// IPC channel. It answers a 54-byte JSON body on any path, and on GET /__headers the request
// headers it received (the harness checks that a `headers` policy reached the upstream).
// It reports the TCP connections it accepted and the requests it served when asked, so the
// harness can see whether the gateway reuses its upstream connections. GET /__count/<x> answers
// how many requests it served whose path starts with /<x>/ (bench/paired.sh counts each
// gateway's requests mid-run this way, by giving each gateway its own path prefix). It exits when the harness
// goes away (the IPC channel closes), so it is never left behind. Run alone (bench/paired.sh), it
// listens on $PORT and prints the port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from(JSON.stringify({ ok: true, service: 'upstream', id: 42, msg: 'hello' }));

export type FromUpstream = { t: 'listening'; port: number } | { t: 'stats'; conns: number; reqs: number };
export type ToUpstream = { t: 'stats' };

let conns = 0;
let reqs = 0;
/** Requests served per first path segment (only counted when asked for once, see below). */
const byPrefix = new Map<string, number>();

const server = http.createServer((req, res) => {
  if (req.url === '/__headers') {
    const text = JSON.stringify(req.headers);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  if (req.url!.startsWith('/__count/')) {
    // The first ask starts the count for that prefix (other paths are not counted).
    const prefix = req.url!.slice('/__count/'.length);
    const text = String(byPrefix.get(prefix) ?? 0);
    if (!byPrefix.has(prefix)) byPrefix.set(prefix, 0);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': text.length });
    res.end(text);
    return;
  }
  reqs++;
  if (byPrefix.size > 0) {
    const end = req.url!.indexOf('/', 1);
    const prefix = end > 0 ? req.url!.slice(1, end) : '';
    const n = byPrefix.get(prefix);
    if (n !== undefined) byPrefix.set(prefix, n + 1);
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
server.on('connection', () => {
  conns++;
});
server.keepAliveTimeout = 120_000; // longer than the gateway's idle timeout: the gateway closes first
server.headersTimeout = 121_000;

if (process.send) {
  const send = (m: FromUpstream) => process.send!(m);
  // The harness sends only ToUpstream; the channel itself carries anything, so the kind is checked.
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && 't' in m && m.t === 'stats') send({ t: 'stats', conns, reqs });
  });
  process.on('disconnect', () => process.exit(0));
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
  server.listen(0, '127.0.0.1', () => send({ t: 'listening', port: (server.address() as AddressInfo).port }));
} else {
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
}
