// Headers a policy wants on the gateway's own answers too — errors (502, 504, …) and a later
// policy's verdict — which skip the response phase: kept in the request's `errorHeaders`.
import type { RequestContext } from './types.js';

/** Adds `headers` ([name, value, …]) to what the gateway's own answers of this request carry. */
export function addErrorHeaders(ctx: RequestContext, headers: readonly string[]): void {
  const list = ctx.errorHeaders;
  if (list === undefined) ctx.errorHeaders = headers.slice();
  else for (let i = 0; i < headers.length; i++) list.push(headers[i]!);
}
