// The TLS side of every listener of a data plane, by listener index: what `listen()` asks for when
// it creates a server, what a config reload changes (certificates and TLS settings of existing
// listeners — the listeners themselves are fixed for life), and what the admin API and the expiry
// metric read.
import type { ListenerTlsConfig } from '../../config/tls-schema.js';
import type { Logger } from '../../observability/logger.js';
import { ListenerTls, type CertificateStatus, type TlsSet } from './listener-tls.js';
import type { CertificateExpiry } from '../../observability/metrics.js';

/** A reload's TLS, loaded and not yet serving (TlsListeners.prepare). */
export type PreparedTls = readonly (TlsSet | undefined)[];

export class TlsListeners {
  private readonly byIndex: (ListenerTls | undefined)[] = [];

  constructor(private readonly log: Logger) {}

  /**
   * The TLS handle of listener `index` (undefined for a plain listener): `options` go to the
   * server's constructor, and the server is then given to `attach`. Throws on unusable material.
   */
  open(listener: { tls?: ListenerTlsConfig | undefined }, index: number): ListenerTls | undefined {
    const tls = listener.tls === undefined ? undefined : new ListenerTls(listener.tls, `listen[${index}]`, this.log);
    this.byIndex[index] = tls;
    return tls;
  }

  /** Names a bound listener by its address (GET /certificates, the metric's label). */
  bound(index: number, host: string, port: number): void {
    const tls = this.byIndex[index];
    if (tls !== undefined) tls.address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * Loads the TLS of a reloaded config for the listeners that have it; throws (and nothing
   * changes) when a certificate cannot be used. Whether TLS is on is fixed for a listener's life.
   */
  prepare(listen: readonly { tls?: ListenerTlsConfig | undefined }[]): PreparedTls {
    return this.byIndex.map((tls, i) => {
      const next = listen[i]?.tls;
      return tls !== undefined && next !== undefined ? tls.prepare(next) : undefined;
    });
  }

  commit(prepared: PreparedTls): void {
    prepared.forEach((set, i) => {
      if (set !== undefined) this.byIndex[i]?.commit(set);
    });
  }

  certificates(): CertificateStatus[] {
    return this.byIndex.flatMap((t) => t?.certificates() ?? []);
  }

  expiries(): CertificateExpiry[] {
    return this.byIndex.flatMap((t) => t?.expiries() ?? []);
  }

  close(): void {
    for (const t of this.byIndex) t?.close();
  }
}
