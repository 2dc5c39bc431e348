// What the upstream learns about the caller. The client's own copies of these headers are dropped
// in the one-pass header scan (dataplane/forwarding.ts) on every route, so an upstream can trust them.
import type { HeaderList, Identity } from '../policies/types.js';

export const IDENTITY_HEADERS = [
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-groups',
  'x-credential-id',
  'x-authenticated-scopes',
  'x-anonymous-consumer',
] as const;

export function addIdentityHeaders(out: HeaderList, id: Identity): void {
  if (id.consumerId !== undefined) out.push('x-consumer-id', asHeaderValue(id.consumerId));
  if (id.username !== undefined) out.push('x-consumer-username', asHeaderValue(id.username));
  if (id.groups.length > 0) out.push('x-consumer-groups', id.groups.map(asHeaderValue).join(', '));
  if (id.credentialId !== undefined) out.push('x-credential-id', asHeaderValue(id.credentialId));
  if (id.scopes !== undefined && id.scopes.length > 0) out.push('x-authenticated-scopes', id.scopes.map(asHeaderValue).join(' '));
  if (id.anonymous) out.push('x-anonymous-consumer', 'true');
}

const VISIBLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * A value as a header can carry it: printable ASCII as is; anything else (non-ASCII names, a
 * token's control characters) percent-encoded as UTF-8, as encodeURIComponent does — never a
 * request that fails upstream because of a consumer's name.
 */
export function asHeaderValue(s: string): string {
  return VISIBLE_ASCII.test(s) ? s : encodeURIComponent(s);
}
