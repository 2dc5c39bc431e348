// Headers a policy wants on the gateway's own answers too — errors (502, 504, …) and a later
// policy's verdict — which skip the response phase: a flat [name, value, …] list in the request's
// locals under this key.
export const ERROR_HEADERS = 'gateway.error-headers';

import type { RequestContext } from './types.js';

/** Adds `headers` ([name, value, …]) to what the gateway's own answers of this request carry. */
export function addErrorHeaders(ctx: RequestContext, headers: readonly string[]): void {
  const list = ctx.locals.get(ERROR_HEADERS) as string[] | undefined;
  if (list === undefined) ctx.locals.set(ERROR_HEADERS, headers.slice());
  else for (let i = 0; i < headers.length; i++) list.push(headers[i]!);
}
