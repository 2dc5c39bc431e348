// A plugin's served response (a ServeVerdict from access or upstreamResponse) checked before it is
// sent: it goes out as the service's response would, so what cannot be sent (a bad status, a header
// with CR/LF, a body that is not a Buffer) is the plugin's fault, like a throw.
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { HeaderList, RequestContext, ServeVerdict } from './types.js';

/** A copy of the plugin's `{ serve }` (each field read once), or why it cannot be sent. */
export function serveOf(v: unknown): ServeVerdict | string {
  const serve = typeof v === 'object' && v !== null ? (v as { serve?: unknown }).serve : undefined;
  if (typeof serve !== 'object' || serve === null) return 'serve must be an object { status, headers, body, trailers? }';
  const { status, headers, body, trailers } = serve as Record<string, unknown>;
  // 1xx is not a final answer; 101 would switch protocols on a socket nobody handles.
  if (!(Number.isInteger(status) && (status as number) >= 200 && (status as number) <= 599))
    return 'status must be a whole number from 200 to 599';
  if (!Buffer.isBuffer(body)) return 'body must be a Buffer';
  const h = fieldList(headers, 'headers');
  if (typeof h === 'string') return h;
  const out: ServeVerdict = { serve: { status: status as number, headers: h, body } };
  const refresh = (v as { refresh?: unknown }).refresh;
  if (refresh !== undefined) {
    if (typeof refresh !== 'function') return 'refresh must be a function (ctx) => void';
    out.refresh = refresh as (ctx: RequestContext) => void; // the exchange calls it fenced (a throw is logged)
  }
  if (trailers !== undefined) {
    const t = fieldList(trailers, 'trailers');
    if (typeof t === 'string') return t;
    out.serve.trailers = t;
  }
  return out;
}

function fieldList(list: unknown, what: string): HeaderList | string {
  if (!Array.isArray(list) || list.length % 2 !== 0) return `${what} must be a list [name, value, …]`;
  const copy: HeaderList = [];
  for (let i = 0; i < list.length; i += 2) {
    const name: unknown = list[i];
    const value: unknown = list[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string') return `${what}: names and values are strings`;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      return `${what}: ${JSON.stringify(name)} cannot be sent (a name must be a token; a value has no CR, LF or NUL)`;
    }
    copy.push(name, value);
  }
  return copy;
}
