// `listen[].tls`: serve HTTPS on a listener with one or more certificates, chosen per connection
// by the name the client asks for (SNI); optionally asking for client certificates (mtls).
import { z } from 'zod';
import { Duration } from './units-schema.js';

const Pem = z.string().min(1).meta({ description: 'Inline PEM ("-----BEGIN ...") or the path of a PEM file.' });

/** The fields that name one certificate's material (PEM pair or PKCS#12), shared by the shorthand. */
const certificateFields = {
  cert: Pem.optional().meta({ description: 'Certificate chain (leaf first): inline PEM or a PEM file path. With `key`.' }),
  key: Pem.optional().meta({ description: 'Private key of `cert`: inline PEM or a PEM file path.' }),
  pfx: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Path of a PKCS#12 file (.p12/.pfx) holding the key and the chain, instead of cert/key.' }),
  passphrase: z.string().optional().meta({
    description: 'Passphrase of `pfx` or of an encrypted `key`; usually "${ENV_VAR}". Never shown by the admin API.',
  }),
};

const clientCertFields = {
  clientCa: Pem.optional().meta({
    description: 'CA certificates that client certificates are verified against (inline PEM or file path).',
  }),
  requestCert: z.boolean().optional().meta({
    description:
      'Ask clients for a certificate (default: true when clientCa is set). Unverified or absent certificates do not fail the handshake; the mtls policy answers 401.',
  }),
};

/** cert + key, or pfx: exactly one form. `at` prefixes the issue path (the shorthand checks the listener level). */
function oneMaterial(c: { cert?: string | undefined; key?: string | undefined; pfx?: string | undefined }, ctx: z.RefinementCtx): void {
  if (c.pfx !== undefined && (c.cert !== undefined || c.key !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'use either cert and key, or pfx — not both', path: ['pfx'] });
  } else if (c.pfx === undefined) {
    if (c.cert === undefined) ctx.addIssue({ code: 'custom', message: 'a certificate needs cert and key (or pfx)', path: ['cert'] });
    if (c.key === undefined) ctx.addIssue({ code: 'custom', message: 'a certificate needs key beside cert (or pfx)', path: ['key'] });
  }
}

export const TlsCertificate = z
  .strictObject({
    ...certificateFields,
    ...clientCertFields,
    default: z.boolean().optional().meta({
      description: 'Serve this certificate to clients that send no SNI or an unknown name (default: the first certificate).',
    }),
  })
  .superRefine(oneMaterial)
  .meta({ description: 'One certificate, served for the DNS names of its subjectAltName (its subject CN when it has none).' });

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'] as const;

export const ListenerTls = z
  .strictObject({
    ...certificateFields,
    certificates: z.array(TlsCertificate).min(1).max(1000).optional().meta({
      description: 'Several certificates, chosen per connection by SNI. Instead of the one-certificate shorthand (cert/key or pfx).',
    }),
    ...clientCertFields,
    sni: z
      .strictObject({
        unknown: z.enum(['default', 'refuse']).default('default').meta({
          description: 'A name no certificate covers: serve the default certificate, or refuse the handshake (unrecognized_name alert).',
        }),
        missing: z.enum(['default', 'refuse']).optional().meta({
          description: 'A client that sends no SNI: serve the default certificate, or fail the handshake. Default: as `unknown`.',
        }),
      })
      .default({ unknown: 'default' }),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').meta({ description: 'Lowest TLS version accepted.' }),
    ciphers: z.string().min(1).optional().meta({
      description:
        'OpenSSL cipher list (TLS 1.3 suites, names starting TLS_, included). Default: TLS 1.3 suites and forward-secret AEAD suites for TLS 1.2.',
    }),
    alpn: z
      .array(z.enum(ALPN_PROTOCOLS))
      .max(2)
      .refine((a) => new Set(a).size === a.length, { error: 'a protocol is listed twice' })
      .default(['h2', 'http/1.1'])
      .meta({ description: 'Protocols offered by ALPN, in order of preference.' }),
    watch: z.boolean().default(true).meta({
      description: 'Reload the certificate files when they change (renewals, a Kubernetes secret update), without a restart.',
    }),
    pollInterval: Duration.default('30s').meta({
      description: 'How often the files are also checked (mtime, inode) in case a change was not reported; 0 = never.',
    }),
  })
  .superRefine((t, ctx) => {
    const shorthand = t.cert !== undefined || t.key !== undefined || t.pfx !== undefined;
    if (t.certificates === undefined) {
      if (!shorthand) ctx.addIssue({ code: 'custom', message: 'TLS needs certificates (or the shorthand cert and key, or pfx)', path: [] });
      else oneMaterial(t, ctx);
    } else if (shorthand) {
      ctx.addIssue({
        code: 'custom',
        message: 'use either certificates or the one-certificate shorthand (cert/key, pfx), not both',
        path: [t.pfx !== undefined ? 'pfx' : 'cert'],
      });
    } else if (t.certificates.filter((c) => c.default === true).length > 1) {
      ctx.addIssue({ code: 'custom', message: 'at most one certificate is the default', path: ['certificates'] });
    }
  })
  .meta({ description: 'TLS for this listener (HTTPS).' });

export type ListenerTlsConfig = z.output<typeof ListenerTls>;
export type TlsCertificateConfig = z.output<typeof TlsCertificate>;

/** One certificate of a listener as configured: the shorthand becomes a list of one. */
export interface CertificateSpec extends Omit<TlsCertificateConfig, 'default'> {
  /** Where it is written, for messages: "certificates[1]" or "" for the shorthand. */
  at: string;
  default: boolean;
}

/** The certificates of a TLS section, with the listener's clientCa/requestCert as their defaults. */
export function certificateSpecs(tls: ListenerTlsConfig): CertificateSpec[] {
  const list: { spec: TlsCertificateConfig; at: string }[] =
    tls.certificates !== undefined
      ? tls.certificates.map((spec, i) => ({ spec, at: `certificates[${i}]` }))
      : [{ spec: { cert: tls.cert, key: tls.key, pfx: tls.pfx, passphrase: tls.passphrase }, at: '' }];
  const chosen = list.findIndex((c) => c.spec.default === true);
  return list.map(({ spec, at }, i) => ({
    ...spec,
    clientCa: spec.clientCa ?? tls.clientCa,
    requestCert: spec.requestCert ?? tls.requestCert,
    at,
    default: i === (chosen === -1 ? 0 : chosen),
  }));
}

/**
 * What of a listener needs a restart to change: everything but its certificates and their TLS
 * settings, which an existing listener takes on reload. `alpn` stays: which protocols a listener
 * speaks is decided when its server is created. Turning TLS on or off needs a restart too.
 */
export function listenerRestartView(l: { tls?: ListenerTlsConfig | undefined }): unknown {
  return { ...l, tls: l.tls === undefined ? undefined : { alpn: l.tls.alpn } };
}

/** `listen[].redirectHttps`, `routes[].redirectHttps`: answer plain-HTTP requests with 308 to https://. */
export const RedirectHttps = z
  .union([
    z.boolean(),
    z.strictObject({
      port: z.number().int().min(1).max(65535).meta({ description: 'The HTTPS port in the Location (default 443, left out of the URL).' }),
    }),
  ])
  .meta({
    description:
      'Redirect plain-HTTP requests to HTTPS with 308 (method and body kept): same host and path, `port` or 443. Not applied to requests that came over TLS, or whose trusted proxy says X-Forwarded-Proto: https.',
  });
