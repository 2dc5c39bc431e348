// One request API over HTTP/1.1 (undici) and HTTP/2 (node:http2, prior knowledge on a plain
// listener with `http2: true`, or ALPN over TLS), so an integration test can run the same steps
// over both and expect the same answers. The response has undici's shape (statusCode, headers,
// body.text()/json()); HTTP/2's pseudo-headers are left out, its trailers kept.
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { request as undiciRequest } from 'undici';

export interface ClientRequest {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export interface ClientResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: { text(): Promise<string>; json(): Promise<unknown> };
}

export interface TestClient {
  /** "HTTP/1.1" or "HTTP/2": test names say which one ran. */
  readonly name: string;
  /** The access log's `protocol` for this client's requests. */
  readonly protocol: string;
  request(url: string, opts?: ClientRequest): Promise<ClientResponse>;
  /** Closes what the client keeps open (HTTP/2 sessions). */
  close(): Promise<void>;
}

export const http1Client: TestClient = {
  name: 'HTTP/1.1',
  protocol: 'HTTP/1.1',
  async request(url, opts = {}) {
    const res = await undiciRequest(url, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body });
    const text = await res.body.text();
    return {
      statusCode: res.statusCode,
      headers: res.headers,
      trailers: res.trailers,
      body: { text: () => Promise.resolve(text), json: () => Promise.resolve(JSON.parse(text) as unknown) },
    };
  },
  close: () => Promise.resolve(),
};

/** An HTTP/2 client keeping one session per origin (requests multiplex on it, as browsers do). */
export function http2Client(opts: { ca?: string } = {}): TestClient {
  const sessions = new Map<string, ClientHttp2Session>();
  const session = (origin: string): ClientHttp2Session => {
    let s = sessions.get(origin);
    if (s === undefined || s.closed || s.destroyed) {
      s = http2.connect(origin, opts.ca !== undefined ? { ca: opts.ca } : {});
      s.on('error', () => {}); // a failed request reports its own error
      sessions.set(origin, s);
    }
    return s;
  };
  return {
    name: 'HTTP/2',
    protocol: 'HTTP/2.0',
    request(url, o = {}) {
      const u = new URL(url);
      return new Promise((resolve, reject) => {
        const headers: http2.OutgoingHttpHeaders = { ':method': o.method ?? 'GET', ':path': u.pathname + u.search };
        for (const [k, v] of Object.entries(o.headers ?? {})) {
          if (k.toLowerCase() === 'host') headers[':authority'] = v;
          else headers[k.toLowerCase()] = v;
        }
        const stream = session(u.origin).request(headers, { endStream: o.body === undefined });
        let head: IncomingHttpHeaders = {};
        let trailers: IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on('response', (h) => (head = h));
        stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          // A response that came before the whole upload (the gateway resets the stream with
          // NO_ERROR) leaves node's stream waiting for writes that will never go: let it go.
          stream.destroy();
          const text = Buffer.concat(chunks).toString();
          resolve({
            statusCode: Number(head[':status']),
            headers: withoutPseudo(head),
            trailers: withoutPseudo(trailers),
            body: { text: () => Promise.resolve(text), json: () => Promise.resolve(JSON.parse(text) as unknown) },
          });
        });
        if (o.body !== undefined) stream.end(o.body);
      });
    },
    async close() {
      await Promise.all([...sessions.values()].map((s) => new Promise<void>((r) => (s.closed ? r() : s.close(() => r())))));
      sessions.clear();
    },
  };
}

function withoutPseudo(h: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) out[k] = v;
  return out;
}

/** The clients an integration test runs its steps over (the gateway's listener has `http2: true`). */
export function bothClients(): TestClient[] {
  return [http1Client, http2Client()];
}
