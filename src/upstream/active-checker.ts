// Probes one target on an interval, off the request path. One checker per target per instance.
import { request, type Dispatcher } from 'undici';
import type { Clock } from './clock.js';
import { grpcHealthProbe } from './grpc-health.js';

export interface ActiveCheckSettings {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  expectStatus: ReadonlySet<number> | undefined;
  /** `type: grpc`: the grpc.health.v1 Check call for this service name ("" = the server) instead of a GET of `path`. */
  grpcService?: string | undefined;
}

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export class ActiveChecker {
  private cancel: (() => void) | undefined;
  private stopped = false;
  private abort: AbortController | undefined;

  constructor(
    private readonly origin: string,
    private readonly hostHeader: string,
    public settings: ActiveCheckSettings,
    /** The probes' agent (replaced when the service's protocol changes on reload). */
    public dispatcher: Dispatcher,
    private readonly clock: Clock,
    private readonly onResult: (r: ProbeResult) => void,
  ) {}

  start(): void {
    // The first probe goes out at once, so a dead target is known before the first interval.
    this.cancel = this.clock.setTimer(() => void this.tick(), 0);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.abort?.abort();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const result = await this.probe();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run while the probe was out
    if (this.stopped) return;
    this.onResult(result);
    this.cancel = this.clock.setTimer(() => void this.tick(), this.settings.intervalMs);
  }

  async probe(): Promise<ProbeResult> {
    const { path, timeoutMs, expectStatus } = this.settings;
    const abort = (this.abort = new AbortController());
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    if (this.settings.grpcService !== undefined) {
      const r = await grpcHealthProbe(this.origin, this.hostHeader, this.settings.grpcService, abort.signal);
      clearTimeout(timer);
      return abort.signal.aborted ? { ok: false, reason: `active check timed out after ${timeoutMs}ms` } : r;
    }
    try {
      const res = await request(this.origin + path, {
        method: 'GET',
        headers: { host: this.hostHeader, 'user-agent': 'gatehouse-health-check' },
        dispatcher: this.dispatcher,
        signal: abort.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      const ok = expectStatus ? expectStatus.has(res.statusCode) : res.statusCode >= 200 && res.statusCode < 400;
      return ok ? { ok: true } : { ok: false, reason: `active check answered ${res.statusCode}` };
    } catch (err) {
      const reason = abort.signal.aborted
        ? `active check timed out after ${timeoutMs}ms`
        : `active check failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return { ok: false, reason };
    } finally {
      clearTimeout(timer);
    }
  }
}
