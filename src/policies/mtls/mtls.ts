// `type: mtls` — the client certificate of a TLS listener (`listen[].tls` with `clientCa`),
// verified by the TLS layer against the configured CAs, mapped to a consumer by a SAN entry or
// the subject CN (credential type `mtls`). The outcome is remembered per connection: the
// certificate cannot change on a TLS connection (renegotiation is off in node).
import { z } from 'zod';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { definePolicy, type RequestContext } from '../types.js';
import { authPolicy, type Authenticator, type AuthOutcome } from '../../identity/authenticator.js';
import { Anonymous } from '../../identity/auth-options.js';
import { identityOf, type ConsumerRegistry } from '../../identity/registry.js';
import { scopeMismatch } from '../../edge/tls/client-scope.js';

export const mtlsSchema = z.strictObject({
  type: z.literal('mtls'),
  anonymous: Anonymous,
});

export type MtlsConfig = z.output<typeof mtlsSchema>;

const NOT_TLS: AuthOutcome = { ok: false, absent: true, reason: 'not a TLS connection (mtls needs a listen[].tls listener with clientCa)' };
const NO_CERT: AuthOutcome = { ok: false, absent: true, reason: 'no client certificate' };
const DISPATCHED: AuthOutcome = { ok: false, absent: true, reason: 'a request of a batch carries no client certificate' };

/** A TLS socket says so (`encrypted: true`); a plain TCP one has no such property. */
function isTls(sock: Socket): sock is TLSSocket {
  return (sock as Partial<TLSSocket>).encrypted === true;
}

/**
 * The in-memory connection of a batch's request (dataplane/internal-dispatch.ts) says `encrypted`
 * when the batch came over TLS, but it has no handshake: no certificate to read. The batch's own
 * certificate is not lent to its requests (its header fields are): mtls routes refuse them.
 */
function hasHandshake(sock: TLSSocket): boolean {
  return typeof (sock as Partial<TLSSocket>).getPeerCertificate === 'function';
}

export function mtlsAuthenticator(consumers: ConsumerRegistry): Authenticator {
  const seen = new WeakMap<Socket, AuthOutcome>();
  const decide = (sock: TLSSocket): AuthOutcome => {
    const cert = sock.getPeerCertificate();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- null once the socket is destroyed (node's documentation; not in its types)
    if (!cert || Object.keys(cert).length === 0) return NO_CERT;
    if (!sock.authorized) return { ok: false, reason: `client certificate not verified: ${String(sock.authorizationError)}` };
    const sans = (cert.subjectaltname ?? '')
      .split(', ')
      .filter(Boolean)
      .map((s) => s.slice(s.indexOf(':') + 1));
    for (const san of sans) {
      const e = consumers.certSan(san);
      if (e) return { ok: true, identity: identityOf(e.consumer, e.credentialId, 'mtls') };
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- parsed from the certificate the client sent: kept defensive
    const cn = cert.subject?.CN;
    const e = typeof cn === 'string' ? consumers.certSubject(cn) : undefined;
    if (e) return { ok: true, identity: identityOf(e.consumer, e.credentialId, 'mtls') };
    return {
      ok: false,
      reason: `client certificate (CN ${JSON.stringify(cn)}, SAN ${JSON.stringify(cert.subjectaltname ?? '')}) maps to no consumer`,
    };
  };
  return {
    method: 'mtls',
    challenge: 'Mutual realm="gatehouse"',
    authenticate(ctx: RequestContext): AuthOutcome {
      const sock = ctx.req.socket;
      if (!isTls(sock)) return NOT_TLS;
      if (!hasHandshake(sock)) return DISPATCHED;
      // With a clientCa per certificate, the certificate was verified for the SNI name's CAs only.
      const misdirected = scopeMismatch(sock, ctx.host);
      if (misdirected !== undefined) return { ok: false, reason: misdirected };
      let r = seen.get(sock);
      if (r === undefined) seen.set(sock, (r = decide(sock)));
      return r;
    },
  };
}

export const mtlsPolicy = definePolicy({
  type: 'mtls',
  description: 'Authenticate by a verified TLS client certificate (credential type mtls).',
  schema: mtlsSchema,
  phases: ['access'],
  order: 'authenticate',
  example: {},
  authenticator: (_config, env) => mtlsAuthenticator(env.consumers),
  create: (config, env) => authPolicy(mtlsAuthenticator(env.consumers), { anonymous: config.anonymous, hideCredentials: false }, env),
});
