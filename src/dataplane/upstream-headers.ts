// The header list every attempt of an upstream call sends, assembled once per request (by the
// exchange, when the call is admitted): the client's fields as the scan sorted them, the
// forwarding headers, the verified identity (never a client's copy of a claim header), the
// traceparent, the upstreamRequest policies' edits — and two slots each attempt fills in: its
// traceparent (our client span) and its Host.
import type { HeaderList, Policy, RequestContext } from '../policies/types.js';
import type { Identity } from '../identity/identity.js';
import { addIdentityHeaders } from '../identity/identity-headers.js';
import { addForwardingHeaders, type ClientInfo, type ScannedHeaders } from './forwarding.js';
import { findHeader, removeHeader } from './header-list.js';

export interface UpstreamHeaders {
  headers: HeaderList;
  /** Where each attempt writes its Host value; -1 when a policy set Host itself. */
  hostIndex: number;
  /** Where each attempt writes its traceparent; -1 without tracing. */
  traceIndex: number;
}

export interface HeaderSource {
  readonly requestId: string;
  /** The policies' context (built only for routes with upstreamRequest policies). */
  context(): RequestContext;
}

export function upstreamHeaders(
  source: HeaderSource,
  scan: ScannedHeaders,
  client: ClientInfo,
  proto: 'http' | 'https',
  claimHeaders: readonly string[],
  identity: Identity | undefined,
  traced: boolean,
  policies: readonly Policy[],
): UpstreamHeaders {
  const headers = scan.forward;
  addForwardingHeaders(headers, scan, client, proto, source.requestId);
  for (let i = 0; i < claimHeaders.length; i++) removeHeader(headers, claimHeaders[i]!);
  if (identity !== undefined) addIdentityHeaders(headers, identity);
  // Tracing off: the client's traceparent (held back by the scan) goes on as received.
  if (!traced && scan.traceparent !== undefined) headers.push('traceparent', scan.traceparent);
  for (let i = 0; i < policies.length; i++) policies[i]!.upstreamRequest!(source.context(), headers);
  let traceIndex = -1;
  if (traced) {
    // Our client span becomes the upstream's parent, set per attempt (whatever a policy set).
    if (policies.length > 0) removeHeader(headers, 'traceparent');
    traceIndex = headers.length + 1;
    headers.push('traceparent', '');
  }
  // Host goes last, once nothing else will move the list: a policy that set one keeps it.
  let hostIndex = -1;
  if (policies.length === 0 || findHeader(headers, 'host') === undefined) {
    headers.push('host', '');
    hostIndex = headers.length - 1;
  }
  return { headers, hostIndex, traceIndex };
}
