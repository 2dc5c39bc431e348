// Reading HTTP/1.1 off the wire in tests: responses parsed from raw bytes (so hop-by-hop headers
// and framing are seen exactly as sent), and raw TCP upstreams that answer with canned bytes.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface WireResponse {
  status: number;
  /** Raw header lines in order, names as sent. */
  rawHeaders: [string, string][];
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the body ended as its framing says (content-length reached, last chunk seen). */
  complete: boolean;
}

/**
 * Parses every response in a raw byte stream (as rawRequest returns it, latin1). Stops at the
 * first incomplete one (marked complete: false). 1xx, 204 and 304 responses (and all, with `head`) have
 * no body.
 */
export function parseResponses(raw: string, opts: { head?: boolean } = {}): WireResponse[] {
  const buf = Buffer.from(raw, 'latin1');
  const out: WireResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos, 'latin1');
    if (end === -1) break;
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const rawHeaders: [string, string][] = [];
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      const name = line.slice(0, i);
      const value = line.slice(i + 1).trim();
      rawHeaders.push([name, value]);
      const k = name.toLowerCase();
      headers[k] = headers[k] === undefined ? value : `${headers[k]}, ${value}`;
    }
    const status = Number(m[1]);
    pos = end + 4;
    const res: WireResponse = { status, rawHeaders, headers, body: Buffer.alloc(0), complete: true };
    out.push(res);
    if (opts.head || status < 200 || status === 204 || status === 304) continue;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      res.complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', pos, 'latin1');
        if (lineEnd === -1) {
          pos = buf.length;
          break;
        }
        const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) {
          pos = buf.length;
          break;
        }
        if (size === 0) {
          const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd, 'latin1');
          if (trailerEnd === -1) {
            pos = buf.length;
            break;
          }
          pos = trailerEnd + 4;
          res.complete = true;
          break;
        }
        const start = lineEnd + 2;
        parts.push(buf.subarray(start, Math.min(start + size, buf.length)));
        if (start + size + 2 > buf.length) {
          pos = buf.length;
          break;
        }
        pos = start + size + 2;
      }
      res.body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      res.body = buf.subarray(pos, Math.min(pos + len, buf.length));
      res.complete = res.body.length === len;
      pos += len;
    } else {
      res.body = buf.subarray(pos); // read until close
      pos = buf.length;
    }
    if (!res.complete) break;
  }
  return out;
}

export interface RawUpstream {
  url: string;
  port: number;
  /** Connections accepted. */
  connections: number;
  /** Everything received, per connection. */
  received: string[];
  close(): Promise<void>;
}

/**
 * A TCP server that plays an upstream: `onRequest` is called for every request head that arrives
 * (requests are assumed to have no body) and writes whatever bytes it likes.
 */
export async function startRawUpstream(onRequest: (sock: net.Socket, head: string) => void): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const up = { connections: 0, received: [] as string[] } as RawUpstream;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const index = up.connections++;
    up.received[index] = '';
    let pending = '';
    sock.on('data', (c) => {
      const text = c.toString('latin1');
      up.received[index] += text;
      pending += text;
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end + 4);
        pending = pending.slice(end + 4);
        onRequest(sock, head);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(up, {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  });
}

/** A port nothing listens on (a server was bound to it, then closed). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Asserts-friendly check that a gateway error body carries no stack trace or internal paths. */
export function looksLikeStackTrace(body: string): boolean {
  return /\n\s+at\s|\bat\s+\S+\s+\(|node:internal|\.js:\d+:\d+|\.ts:\d+:\d+|"stack"/.test(body);
}
