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
  if (id.consumerId !== undefined) out.push('x-consumer-id', id.consumerId);
  if (id.username !== undefined) out.push('x-consumer-username', id.username);
  if (id.groups.length > 0) out.push('x-consumer-groups', id.groups.join(', '));
  if (id.credentialId !== undefined) out.push('x-credential-id', id.credentialId);
  if (id.scopes !== undefined && id.scopes.length > 0) out.push('x-authenticated-scopes', id.scopes.join(' '));
  if (id.anonymous) out.push('x-anonymous-consumer', 'true');
}
