// The TLS side of one listener: the options its server is created with (the SNI callback, the
// default certificate, versions, ciphers, ALPN) and the certificates behind them. The set of
// certificates is replaced whole — on a config reload, or when a certificate's files change — and
// new handshakes use the newest set while existing connections keep the one they started with.
// A renewed file that cannot be used is logged and the certificate it would replace keeps serving.
import { constants, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecureContext, Server as TlsServer, TlsOptions } from 'node:tls';
import { certificateSpecs, type CertificateSpec, type ListenerTlsConfig } from '../../config/tls-schema.js';
import { parseDuration } from '../../config/units.js';
import type { Logger } from '../../observability/logger.js';
import type { CertificateExpiry } from '../../observability/metrics.js';
import { FileWatch } from './file-watch.js';
import { SniTable } from './names.js';
import {
  filesSignature,
  loadCertificate,
  sharedOptions,
  TlsMaterialError,
  type CertificateInfo,
  type LoadedCertificate,
  type SharedTlsOptions,
} from './material.js';
import { refuseHandshake, setClientCertificateRequest } from './handshake.js';
import { markScope, markServer, type ScopeSource } from './client-scope.js';

/** A certificate as GET /certificates shows it. */
export interface CertificateStatus extends CertificateInfo {
  /** The listener's address ("0.0.0.0:8443"). */
  listener: string;
  /** Where the config writes it: "listen[0].tls" or "listen[0].tls.certificates[1]". */
  at: string;
  default: boolean;
  /** Files it is read from (none for inline PEM). */
  files: string[];
  loadedAt: string;
  /** The last change of its files that could not be used (the certificate above keeps serving). */
  reloadError?: { message: string; at: string };
}

/** The certificate set of a listener, ready to serve; replaced whole, never changed. */
export interface TlsSet {
  readonly config: ListenerTlsConfig;
  readonly shared: SharedTlsOptions;
  readonly certs: readonly LoadedCertificate[];
  readonly table: SniTable<LoadedCertificate>;
  readonly fallback: LoadedCertificate;
  readonly refuseUnknown: boolean;
  readonly refuseMissing: boolean;
  /** Certificates differ in their client-certificate settings (client-scope.ts). */
  readonly mixedScopes: boolean;
  /** The client-certificate settings of its certificates, as one key (sessions depend on them). */
  readonly scopes: string;
}

/** The path of a certificate's field in the config, for messages. */
export function tlsPath(listenerAt: string, spec: CertificateSpec, field = ''): string {
  return [`${listenerAt}.tls`, spec.at, field].filter((p) => p !== '').join('.');
}

/** Loads every certificate of a TLS section; throws an Error whose message starts with the config path. */
function loadAll(config: ListenerTlsConfig, at: string): LoadedCertificate[] {
  const shared = sharedOptions(config);
  return certificateSpecs(config).map((spec) => {
    try {
      return loadCertificate(spec, shared);
    } catch (err) {
      const field = err instanceof TlsMaterialError ? err.field : '';
      throw new Error(`${tlsPath(at, spec, field)}: ${(err as Error).message}`);
    }
  });
}

export class ListenerTls implements ScopeSource {
  /** For tls.createServer / https.createServer / http2.createSecureServer. */
  readonly options: TlsOptions;
  /** The listener's address for GET /certificates and the metric; the config path until bound. */
  address: string;
  private set: TlsSet;
  private server: TlsServer | undefined;
  private watch: FileWatch | undefined;
  private watchKey = '';
  private closed = false;
  private readonly failed = new Map<string, { signature: string; message: string; at: string }>();

  constructor(
    config: ListenerTlsConfig,
    private readonly at: string,
    private readonly log: Logger,
  ) {
    this.address = at;
    this.set = this.assemble(config, loadAll(config, at));
    // SNICallback is called with the TLSSocket as `this` (node's _tls_wrap.js): the certificate's
    // client-certificate request is set on that connection.
    const select = (socket: unknown, name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => this.select(socket, name, cb);
    this.options = {
      ...this.serverContextOptions(this.set),
      requestCert: this.serverRequestsCert(this.set),
      // Never fail a handshake for an absent or unverified client certificate: routes without
      // mtls still serve, and the mtls policy answers 401 with the reason in the log.
      rejectUnauthorized: false,
      ALPNProtocols: config.alpn.length > 0 ? [...config.alpn] : undefined,
      SNICallback: function (this: unknown, name, cb) {
        select(this, name, cb);
      },
    };
    this.follow();
  }

  /** The ALPN offer without protocols a server cannot speak (undefined: no ALPN). */
  alpnWithout(protocol: string): string[] | undefined {
    const offer = this.set.config.alpn.filter((p) => p !== protocol);
    return offer.length > 0 ? offer : undefined;
  }

  /** The server created with `options` (returned): its default certificate follows reloads. */
  attach<S extends TlsServer>(server: S): S {
    this.server = server;
    markServer(server, this);
    return server;
  }

  scopeOf(host: string): string | undefined {
    const set = this.set;
    return (set.table.find(host) ?? (set.refuseUnknown ? undefined : set.fallback))?.clientScope;
  }

  get defaultScope(): string | undefined {
    return this.set.refuseMissing ? undefined : this.set.fallback.clientScope;
  }

  get mixed(): boolean {
    return this.set.mixedScopes;
  }

  /**
   * A reloaded config's TLS section: every certificate is read again. Throws (a message starting
   * with the config path) and changes nothing when one cannot be used.
   */
  prepare(config: ListenerTlsConfig): TlsSet {
    return this.assemble(config, loadAll(config, this.at));
  }

  /** Serves a prepared set from the next handshake on. */
  commit(next: TlsSet, keepFailures = false): void {
    const prev = this.set;
    this.set = next;
    if (!keepFailures) this.failed.clear();
    if (this.server !== undefined && this.serverChanged(prev, next)) {
      // The context for clients without SNI. Ticket keys are kept, so sessions survive the swap —
      // unless the client CAs changed: a session carries the verdict on its client certificate,
      // and one verified by a CA just removed must not resume.
      const ticketKeys = prev.scopes === next.scopes ? this.server.getTicketKeys() : randomBytes(48);
      this.server.setSecureContext({ ...this.serverContextOptions(next), ticketKeys });
      // Read by node for each new connection (tls.Server's own field; not in its types).
      (this.server as TlsServer & { requestCert: boolean }).requestCert = this.serverRequestsCert(next);
    }
    this.follow();
  }

  reload(config: ListenerTlsConfig): void {
    this.commit(this.prepare(config));
  }

  certificates(): CertificateStatus[] {
    return this.set.certs.map((c) => {
      const failed = this.failed.get(c.spec.at);
      return {
        listener: this.address,
        at: tlsPath(this.at, c.spec),
        default: c === this.set.fallback,
        ...c.info,
        files: [...c.files],
        loadedAt: c.loadedAt,
        ...(failed ? { reloadError: { message: failed.message, at: failed.at } } : {}),
      };
    });
  }

  expiries(): CertificateExpiry[] {
    return this.set.certs.map((c) => ({
      listener: this.address,
      name: c.info.names[0] ?? c.info.subject,
      fingerprint: c.info.fingerprint256,
      notAfterMs: c.notAfterMs,
    }));
  }

  close(): void {
    this.closed = true;
    this.watch?.close();
    this.watch = undefined;
  }

  private select(socket: unknown, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void {
    const set = this.set;
    let cert = set.table.find(servername);
    if (cert === undefined) {
      if (set.refuseUnknown) return refuseHandshake(socket as Socket, servername, cb);
      cert = set.fallback;
    }
    try {
      setClientCertificateRequest(socket, cert.requestCert);
      if (set.mixedScopes) markScope(socket, cert.clientScope);
    } catch (err) {
      return cb(err as Error); // this connection fails its handshake; the listener goes on
    }
    cb(null, cert.context);
  }

  private assemble(config: ListenerTlsConfig, certs: LoadedCertificate[]): TlsSet {
    const table = new SniTable(certs.map((c) => ({ names: c.info.names, value: c })));
    for (const k of table.conflicts) {
      this.log.warn(
        { listener: this.address, name: k.name, servedBy: tlsPath(this.at, certs[k.kept]!.spec) },
        `certificate name also in ${tlsPath(this.at, certs[k.shadowed]!.spec)}; the first one listed serves it`,
      );
    }
    const now = Date.now();
    for (const c of certs) {
      if (c.notAfterMs < now)
        this.log.warn(
          { listener: this.address, certificate: tlsPath(this.at, c.spec), notAfter: c.info.notAfter },
          'certificate has expired',
        );
    }
    return {
      config,
      shared: sharedOptions(config),
      certs,
      table,
      fallback: certs.find((c) => c.spec.default) ?? certs[0]!,
      refuseUnknown: config.sni.unknown === 'refuse',
      refuseMissing: (config.sni.missing ?? config.sni.unknown) === 'refuse',
      mixedScopes: new Set(certs.map((c) => c.clientScope)).size > 1,
      scopes: [...new Set(certs.map((c) => c.clientScope))].sort().join(' '),
    };
  }

  /**
   * The server's own context serves clients without SNI: none when they are refused (the handshake
   * fails). Its options also hold for every connection: the SNI callback's context lends only its
   * certificate, key and CAs (node's TLSWrap), so session tickets are this context's matter.
   */
  private serverContextOptions(set: TlsSet): TlsOptions {
    const options: TlsOptions = set.refuseMissing ? { ...set.shared } : { ...set.fallback.contextOptions, ...set.shared };
    // A resumed session skips the SNI callback and keeps the verdict on the client certificate of
    // the handshake that made it, under whatever name the client now sends, and ticket keys are
    // the server's for every name: with client CAs that differ per name, a certificate verified
    // for one name would be resumed into another's. So no session tickets (nor session IDs: node
    // keeps no session cache of its own) on such a listener — every connection is verified.
    // The same where names are refused (sni.unknown or sni.missing: refuse): a ticket from a
    // known name would resume under an unknown one, or without SNI, and be served — the refusal
    // lives in the SNI callback, which a resumed TLS 1.2 session never reaches (nor tells its name).
    if (set.mixedScopes || set.refuseUnknown || set.refuseMissing)
      options.secureOptions = set.shared.secureOptions | constants.SSL_OP_NO_TICKET;
    return options;
  }

  private serverRequestsCert(set: TlsSet): boolean {
    return !set.refuseMissing && set.fallback.requestCert;
  }

  /** The server's own context must be rebuilt: its certificate or settings changed. */
  private serverChanged(prev: TlsSet, next: TlsSet): boolean {
    if (prev.refuseMissing !== next.refuseMissing || prev.refuseUnknown !== next.refuseUnknown) return true; // tickets depend on them
    if (prev.shared.ciphers !== next.shared.ciphers) return true;
    if (prev.scopes !== next.scopes) return true; // sessions (tickets) depend on them
    return prev.shared.minVersion !== next.shared.minVersion || (!next.refuseMissing && prev.fallback !== next.fallback);
  }

  /** Watches the certificate files; the settings and the files may change with each set. */
  private follow(): void {
    if (this.closed) return;
    const { config } = this.set;
    const files = this.set.certs.flatMap((c) => c.files);
    const key = `${config.watch}|${parseDuration(config.pollInterval)}`;
    if (key !== this.watchKey || this.watch === undefined) {
      this.watch?.close();
      this.watchKey = key;
      this.watch =
        files.length === 0
          ? undefined
          : new FileWatch(
              { watch: config.watch, pollMs: parseDuration(config.pollInterval) },
              () => this.checkFiles(),
              (message, err) => this.log.warn({ listener: this.address, err }, message),
            );
    }
    this.watch?.follow(files);
  }

  /** Reloads each certificate whose files changed since it was read; a bad new file keeps the old one. */
  private checkFiles(): void {
    const set = this.set;
    const now = Date.now();
    const certs = set.certs.map((c) => {
      if (c.files.length === 0) return c;
      const signature = filesSignature(c.files);
      if (signature === c.signature || this.failed.get(c.spec.at)?.signature === signature) return c;
      const at = tlsPath(this.at, c.spec);
      try {
        const next = loadCertificate(c.spec, set.shared, now);
        if (next.notAfterMs < now && c.notAfterMs >= now)
          throw new TlsMaterialError('cert', `the new certificate expired on ${next.info.notAfter}`);
        this.failed.delete(c.spec.at);
        this.log.info(
          {
            listener: this.address,
            certificate: at,
            names: next.info.names,
            notAfter: next.info.notAfter,
            fingerprint256: next.info.fingerprint256,
          },
          'certificate reloaded from its files',
        );
        return next;
      } catch (err) {
        const field = err instanceof TlsMaterialError ? err.field : '';
        const message = `${tlsPath(this.at, c.spec, field)}: ${(err as Error).message}`;
        this.failed.set(c.spec.at, { signature, message, at: new Date(now).toISOString() });
        this.log.warn(
          { listener: this.address, certificate: at, reason: message },
          'certificate files changed but cannot be used; the current certificate keeps serving',
        );
        return c;
      }
    });
    if (certs.every((c, i) => c === set.certs[i])) return;
    // A reload of some files does not forget another certificate's failed one.
    this.commit(this.assemble(set.config, certs), true);
  }
}
