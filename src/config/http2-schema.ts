// HTTP/2 in the config (issue 17): h2c on a plain listener (`listen[].http2`), the limits every
// HTTP/2 session of the listeners gets (`server.http2`), and the protocol a service's targets
// speak (`services.<name>.protocol`). Imported by config/schema.ts.
import { z } from 'zod';

export const ListenerHttp2 = z.boolean().optional().meta({
  description:
    'Plain listeners: also accept HTTP/2 without TLS (h2c with prior knowledge) beside HTTP/1.1 on the same port (default false). TLS listeners offer HTTP/2 through ALPN (tls.alpn) and take no http2 key.',
});

export const SERVICE_PROTOCOLS = ['http1', 'h2', 'h2c'] as const;
export type ServiceProtocol = (typeof SERVICE_PROTOCOLS)[number];

export const ServiceProtocolSchema = z.enum(SERVICE_PROTOCOLS).default('http1').meta({
  description:
    'What the targets speak: http1 (HTTP/1.1, the default), h2 (HTTP/2 over TLS: https:// targets, ALPN h2) or h2c (HTTP/2 without TLS: http:// targets, prior knowledge). h2 and h2c multiplex requests over few connections (pool.maxConnections at most).',
});

export const HTTP2_DEFAULTS = { maxConcurrentStreams: 100, maxEarlyResets: 100 };

export const Http2Limits = z
  .strictObject({
    maxConcurrentStreams: z.number().int().min(1).max(1000).default(HTTP2_DEFAULTS.maxConcurrentStreams).meta({
      description: 'Streams (requests) one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused.',
    }),
    maxEarlyResets: z.number().int().min(1).default(HTTP2_DEFAULTS.maxEarlyResets).meta({
      description:
        'A connection whose client has reset more than this many streams before their response, and more than half of all its streams, is closed with GOAWAY ENHANCE_YOUR_CALM (the rapid-reset attack, CVE-2023-44487).',
    }),
  })
  .meta({
    description:
      'Limits of every HTTP/2 connection. The header list is limited by maxHeaderSize and maxHeaderCount, as for HTTP/1.1; idle connections close after keepAliveTimeout, and a connection closes gracefully after maxRequestsPerSocket streams.',
  });

/** A target URL whose scheme the service's protocol cannot use, or undefined. */
export function protocolSchemeProblem(protocol: ServiceProtocol | undefined, url: string): string | undefined {
  const https = url.toLowerCase().startsWith('https:');
  if (protocol === 'h2' && !https) return 'protocol h2 is HTTP/2 over TLS: the target needs https:// (h2c is HTTP/2 without TLS)';
  if (protocol === 'h2c' && https) return 'protocol h2c is HTTP/2 without TLS: the target needs http:// (h2 is HTTP/2 over TLS)';
  return undefined;
}
