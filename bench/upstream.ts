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

// UPSTREAM_BODY picks another answer, for the transformation benchmarks (bench/README.md): json-1k
// and json-64k (an object with an `items` array of about that size), xml-1k and xml-64k (the same
// as XML).
const KIND = process.env.UPSTREAM_BODY ?? '';
const BODY = KIND === '' ? Buffer.from(JSON.stringify({ ok: true, service: 'upstream', id: 42, msg: 'hello' })) : sizedBody(KIND);
const BODY_TYPE = KIND.startsWith('xml') ? 'application/xml' : 'application/json';

function sizedBody(kind: string): Buffer {
  const target = kind.endsWith('64k') ? 64 * 1024 : 1024;
  const items: { id: number; sku: string; price: number; name: string }[] = [];
  const json = () => JSON.stringify({ order: { id: 42, customer: 'c-7', items } });
  while (json().length < target) items.push({ id: items.length, sku: `SKU-${items.length}`, price: 9.5, name: 'widget' });
  if (!kind.startsWith('xml')) return Buffer.from(json());
  const xml = items.map((i) => `<item id="${i.id}"><sku>${i.sku}</sku><price>${i.price}</price><name>${i.name}</name></item>`).join('');
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><order id="42"><customer>c-7</customer><items>${xml}</items></order>`);
}

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
  res.writeHead(200, { 'content-type': BODY_TYPE, 'content-length': BODY.length });
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
