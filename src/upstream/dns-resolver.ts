// Keeps the addresses of one DNS name fresh for a service whose target is a host name: resolves it
// now and then every `intervalMs` (the TTL), and calls `onChange` with the sorted address list
// only when the list differs from the last one. It never blocks a request: the caller reads
// `addresses` (the last good list) and the first resolution is a promise it may await at start-up.
// When a resolution fails or answers nothing, the last good list stays, `onError` hears why, and
// it tries again after `retryMs`.
//
// node's dns.lookup (getaddrinfo) is the default so /etc/hosts and the system resolver apply, as
// they do for a target given by name without this; it reports no TTL, hence the configured interval.
import { lookup as dnsLookup } from 'node:dns/promises';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves every address of a host name (dns.lookup with all: true by default). */
export type LookupAll = (hostname: string, family: 0 | 4 | 6) => Promise<readonly ResolvedAddress[]>;

/** setTimeout/clearTimeout, injectable so tests drive time by hand. */
export interface ResolverTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DnsResolverOptions {
  hostname: string;
  /** Time between resolutions, ms (the name's TTL as configured). */
  intervalMs: number;
  /** Time before trying again after a failure, ms (default: min(intervalMs, 5 s)). */
  retryMs?: number;
  /** 0 = both (default), 4 = IPv4 only, 6 = IPv6 only. */
  family?: 0 | 4 | 6;
  /** Called with the new sorted list each time it changes, the first success included. */
  onChange: (addresses: readonly string[]) => void;
  /** Called when a resolution fails (the last good list is kept). */
  onError?: (err: unknown) => void;
  lookup?: LookupAll;
  timers?: ResolverTimers;
  /** Clock in ms for `resolvedAt`; Date.now by default. */
  now?: () => number;
}

const defaultLookup: LookupAll = (hostname, family) => dnsLookup(hostname, { all: true, family });

const defaultTimers: ResolverTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref(); // a resolver never keeps the process alive
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export class DnsResolver {
  private current: readonly string[] = [];
  private timer: unknown;
  private stopped = false;
  private first: Promise<readonly string[]> | undefined;
  private lastError: unknown;
  private lastSuccessAt: number | undefined;
  private readonly lookup: LookupAll;
  private readonly timers: ResolverTimers;
  private readonly now: () => number;
  private readonly retryMs: number;

  constructor(private readonly options: DnsResolverOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('dns resolver: intervalMs must be > 0');
    this.lookup = options.lookup ?? defaultLookup;
    this.timers = options.timers ?? defaultTimers;
    this.now = options.now ?? Date.now;
    this.retryMs = options.retryMs ?? Math.min(options.intervalMs, 5_000);
  }

  /** The last good address list (empty until the first success). */
  get addresses(): readonly string[] {
    return this.current;
  }

  /** When the last resolution succeeded (resolver clock), and the error of the last failure since. */
  get status(): { resolvedAt: number | undefined; error: unknown } {
    return { resolvedAt: this.lastSuccessAt, error: this.lastError };
  }

  /**
   * Starts resolving (once; later calls return the same promise). The promise settles after the
   * first attempt with the addresses then known — empty when it failed — and never rejects.
   */
  start(): Promise<readonly string[]> {
    this.first ??= this.resolve().then(() => this.current);
    return this.first;
  }

  /** Stops the timer; a resolution still running is ignored when it ends. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async resolve(): Promise<void> {
    let next: string[] | undefined;
    try {
      const found = await this.lookup(this.options.hostname, this.options.family ?? 0);
      next = [...new Set(found.map((a) => a.address))].sort();
      if (next.length === 0) throw new Error(`${this.options.hostname}: no addresses`);
    } catch (err) {
      next = undefined;
      if (!this.stopped) {
        this.lastError = err;
        this.report(err);
      }
    }
    if (this.stopped) return;
    if (next !== undefined) {
      this.lastError = undefined;
      this.lastSuccessAt = this.now();
      if (!sameList(next, this.current)) {
        this.current = next;
        try {
          this.options.onChange(next);
        } catch (err) {
          this.report(err); // a listener's bug must not stop the refresh loop
        }
      }
    }
    // The next round is scheduled only once this one ended, so a slow resolver never piles up.
    this.timer = this.timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.resolve();
      },
      next === undefined ? this.retryMs : this.options.intervalMs,
    );
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // nothing sensible to do with an error reporter that throws
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
