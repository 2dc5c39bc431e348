// The URL a listener is announced with (the start-up line, the "gatehouse started" log line):
// https for a TLS listener. A wildcard host becomes loopback, so the URL opens on this machine.
import { isIPv6 } from 'node:net';

export function listenerUrl(tls: boolean, host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${tls ? 'https' : 'http'}://${isIPv6(h) ? `[${h}]` : h}:${port}`;
}
