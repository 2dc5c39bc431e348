// POST /explain: what the running config does with a request — the same answer as
// `gatehouse explain --json` (dataplane/describe.ts), for the console's explain box.
import type { IncomingMessage } from 'node:http';
import { explain } from '../../dataplane/describe.js';
import type { Controller } from '../../runtime/instance.js';
import { AdminError } from '../errors.js';

const MAX_URL = 8192;

export async function explainEndpoint(
  ctl: Controller,
  req: IncomingMessage,
  readBody: (req: IncomingMessage) => Promise<unknown>,
): Promise<[number, unknown]> {
  const doc = await readBody(req);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new AdminError('ADMIN_BAD_BODY', 'Send {"method": "GET", "url": "…", "headers"?: {…}, "body"?: "…"}.');
  const { method, url, headers = {}, body } = doc as Record<string, unknown>;
  if (typeof method !== 'string' || !/^[A-Za-z]{1,20}$/.test(method))
    throw new AdminError('ADMIN_BAD_BODY', 'method must be an HTTP method such as GET.');
  if (typeof url !== 'string' || url === '' || url.length > MAX_URL || !(url.startsWith('/') || /^https?:\/\//i.test(url)))
    throw new AdminError('ADMIN_BAD_BODY', 'url must be a path ("/v1/users") or an http(s) URL, at most 8 KiB.');
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
    throw new AdminError('ADMIN_BAD_BODY', 'headers must be an object of header names to string values.');
  const named: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k))
      throw new AdminError('ADMIN_BAD_BODY', `header "${k.slice(0, 100)}" must be a token name with a string value.`);
    named[k.toLowerCase()] = v;
  }
  if (body !== undefined && typeof body !== 'string') throw new AdminError('ADMIN_BAD_BODY', 'body must be a string.');
  return [200, explain(ctl.plan, method, url, named, body)];
}
