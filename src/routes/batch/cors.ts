// CORS for a batch sent from another origin. A browser lets a page read a cross-origin response
// only when that response allows the page's origin; a batch answers many routes' responses in one
// response that only the batch route's `cors` policy speaks for. Without this check, a page from
// an origin the batch route allows could read, with the user's cookies, every route that does not
// allow it (or has no CORS at all: same-origin only). So the batch applies the browser's check to
// each response: one that would be hidden from the page is not in the answer. And an item a
// browser would preflight (a PUT, a DELETE, fields of its own) gets that preflight first, sent to
// its route as the browser would send it: an item its route would not allow is not run.
import type { IncomingMessage } from 'node:http';
import type { InternalResponse } from '../types.js';
import type { HeaderList } from '../../policies/types.js';

/** The page's origin, when it is not the batch's own; and whether the browser sent cookies. */
export interface CrossOrigin {
  origin: string;
  credentialed: boolean;
}

/**
 * The batch's origin when it came from another one. Same origin: its Origin names the host the
 * batch was sent to (the scheme is not compared: behind a proxy that ends TLS the gateway cannot
 * tell it, and another scheme on the same host is the same server's).
 */
export function crossOrigin(req: IncomingMessage): CrossOrigin | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  const host = (req.headers.host ?? (req.headers as Record<string, string | undefined>)[':authority'])?.toLowerCase();
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    originHost = undefined; // "null" (sandboxed frames, file:) or nonsense: another origin
  }
  if (originHost !== undefined && originHost !== '' && originHost === host) return undefined;
  return { origin, credentialed: req.headers.cookie !== undefined };
}

/** Whether a browser at `from` could read this response (the CORS check of the Fetch standard). */
export function exposes(res: InternalResponse, from: CrossOrigin): boolean {
  let allowOrigin: string | undefined;
  let allowCredentials: string | undefined;
  for (let i = 0; i + 1 < res.headers.length; i += 2) {
    const name = res.headers[i]!.toLowerCase();
    if (name === 'access-control-allow-origin') {
      if (allowOrigin !== undefined) return false; // more than one: the browser refuses
      allowOrigin = res.headers[i + 1]!.trim();
    } else if (name === 'access-control-allow-credentials') allowCredentials = res.headers[i + 1]!.trim();
  }
  if (allowOrigin === '*') return !from.credentialed;
  if (allowOrigin !== from.origin) return false;
  return !from.credentialed || allowCredentials === 'true';
}

const SIMPLE_METHODS = new Set(['GET', 'HEAD', 'POST']);
/** Request fields a page may set without a preflight (the Fetch standard's CORS-safelisted ones). */
const SAFELISTED = new Set(['accept', 'accept-language', 'content-language', 'content-type']);
const SIMPLE_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

/** Fields the browser sets itself (the Fetch standard's forbidden names) and the request id the batch adds: never preflighted. */
const BROWSER_SET = new Set([
  'host',
  'cookie',
  'cookie2',
  'origin',
  'referer',
  'user-agent',
  'accept-encoding',
  'accept-charset',
  'connection',
  'content-length',
  'date',
  'dnt',
  'expect',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
  'x-request-id',
]);

/**
 * What a browser would preflight of this item: its method, and the names of the fields it carries
 * (its own and those it inherits from the batch: the batch's preflight spoke for the batch route
 * only) that are not safelisted, lower case and sorted; undefined for a simple request.
 */
export function needsPreflight(method: string, fields: HeaderList): { method: string; headers: string[] } | undefined {
  const headers = new Set<string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    if (BROWSER_SET.has(name) || name.startsWith('sec-') || name.startsWith('proxy-')) continue;
    if (!SAFELISTED.has(name)) headers.add(name);
    else if (name === 'content-type' && !SIMPLE_TYPES.has(fields[i + 1]!.split(';')[0]!.trim().toLowerCase())) headers.add(name);
  }
  if (SIMPLE_METHODS.has(method) && headers.size === 0) return undefined;
  return { method, headers: [...headers].sort() };
}

/** Whether a preflight's answer lets the page send the item (the Fetch standard's CORS-preflight check). */
export function preflightAllows(res: InternalResponse, from: CrossOrigin, ask: { method: string; headers: string[] }): boolean {
  if (res.status < 200 || res.status > 299 || !exposes(res, from)) return false;
  const list = (name: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i + 1 < res.headers.length; i += 2)
      if (res.headers[i]!.toLowerCase() === name) for (const v of res.headers[i + 1]!.split(',')) if (v.trim() !== '') out.push(v.trim());
    return out;
  };
  const methods = list('access-control-allow-methods');
  const methodOk = SIMPLE_METHODS.has(ask.method) || methods.includes(ask.method) || (!from.credentialed && methods.includes('*'));
  const allowed = new Set(list('access-control-allow-headers').map((h) => h.toLowerCase()));
  const headersOk = ask.headers.every((h) => allowed.has(h) || (!from.credentialed && allowed.has('*')));
  return methodOk && headersOk;
}
