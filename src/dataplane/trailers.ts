// Trailer fields of an upstream response, on their way to the client: as [name, value] pairs for
// an HTTP/1.1 response (node writes them after the last chunk), or as an object for an HTTP/2 one.
// Fields a trailer must not carry (connection-specific, framing, pseudo-headers) are left out.
import type { OutgoingHttpHeaders } from 'node:http';

const NOT_IN_TRAILERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length',
  'host',
]);

export function trailerPairs(raw: readonly (Buffer | string)[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (NOT_IN_TRAILERS.has(lower) || lower.charCodeAt(0) === 58 /* : */) continue;
    out.push([lower, raw[i + 1]!.toString('latin1')]);
  }
  return out;
}

export function trailerObject(raw: readonly (Buffer | string)[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of trailerPairs(raw)) {
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  return out;
}
