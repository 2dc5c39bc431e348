// Request coalescing: concurrent misses for one key send one request to the service; the others
// wait (bounded) for it to be stored, then look again. Per process: with several workers or
// instances each has its own leader (the service sees at most one request per key per process).

export interface Lead {
  /** This request goes to the service; the others wait for `done`. */
  readonly first: boolean;
  /** Settles when the first is done, or when the wait is over (the timeout): never rejects. */
  readonly waited: Promise<void>;
  /** Its response is being written to the store: the wait ends when that is done, not before. */
  storing: boolean;
  done(): void;
}

export class Coalescer {
  private readonly leads = new Map<string, { lead: Lead; settled: Promise<void>; since: number }>();

  constructor(private readonly timeoutMs: number) {}

  lead(key: string): Lead {
    const current = this.leads.get(key);
    // A lead older than the wait is taken over: whatever happened to it, nobody waits on it any more.
    if (current !== undefined && Date.now() - current.since <= this.timeoutMs)
      return { first: false, waited: this.bounded(current.settled), storing: false, done: noop };
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    const lead: Lead = {
      first: true,
      waited: settled,
      storing: false,
      done: () => {
        if (this.leads.get(key)?.lead === lead) this.leads.delete(key);
        resolve();
      },
    };
    this.leads.set(key, { lead, settled, since: Date.now() });
    return lead;
  }

  /**
   * For a request that must not lead (its response is never stored: a HEAD): the wait for the
   * request that leads `key`, if one does (bounded); undefined when none does.
   */
  follow(key: string): Promise<void> | undefined {
    const current = this.leads.get(key);
    if (current === undefined || Date.now() - current.since > this.timeoutMs) return undefined;
    return this.bounded(current.settled);
  }

  /** Keys with a request at the service now (for tests and stats). */
  get size(): number {
    return this.leads.size;
  }

  private bounded(p: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.timeoutMs);
      timer.unref();
      void p.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function noop(): void {
  /* a waiter leads nothing */
}
