// CORS for a batch sent from another origin. A browser lets a page read a cross-origin response
// only when that response allows the page's origin; a batch answers many routes' responses in one
// response that only the batch route's `cors` policy speaks for. Without this check, a page from
// an origin the batch route allows could read, with the user's cookies, every route that does not
// allow it (or has no CORS at all: same-origin only). So the batch applies the browser's check to
// each response: one that would be hidden from the page is not in the answer.
import type { IncomingMessage } from 'node:http';
import type { InternalResponse } from '../types.js';

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
