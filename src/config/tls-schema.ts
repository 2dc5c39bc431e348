// `listen[].tls`: serve HTTPS on a listener, optionally asking for client certificates (mtls).
import { z } from 'zod';

const Pem = z.string().min(1).meta({ description: 'Inline PEM ("-----BEGIN ...") or the path of a PEM file, read at start.' });

export const ListenerTls = z
  .strictObject({
    cert: Pem.meta({ description: 'Server certificate chain: inline PEM or a PEM file path.' }),
    key: Pem.meta({ description: 'Server private key: inline PEM or a PEM file path.' }),
    clientCa: Pem.optional().meta({
      description: 'CA certificates that client certificates are verified against (inline PEM or file path).',
    }),
    requestCert: z.boolean().optional().meta({
      description:
        'Ask clients for a certificate (default: true when clientCa is set). Unverified or absent certificates do not fail the handshake; the mtls policy answers 401.',
    }),
  })
  .meta({ description: 'TLS for this listener (HTTPS).' });

export type ListenerTlsConfig = z.output<typeof ListenerTls>;
