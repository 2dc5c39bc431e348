// Bounds how many requests a service has in flight (`maxConcurrent`); the next `maxQueue` wait in
// FIFO order for up to `queueTimeout`; the rest are refused at once.
import type { Clock } from './clock.js';

export interface AdmissionSettings {
  maxConcurrent: number;
  maxQueue: number;
  queueTimeoutMs: number;
}

interface Waiter {
  resolve: (ok: boolean) => void;
  cancelTimer: () => void;
  done: boolean;
}

export class AdmissionControl {
  inFlight = 0;
  private queue: Waiter[] = [];
  private head = 0;
  private waiting = 0;

  constructor(
    public settings: AdmissionSettings,
    private readonly clock: Clock,
  ) {}

  get queued(): number {
    return this.waiting;
  }

  /** true: admitted now; false: refused; a promise: queued (resolves false on timeout or cancel). */
  acquire(): boolean | { wait: Promise<boolean>; cancel: () => void } {
    if (this.inFlight < this.settings.maxConcurrent) {
      this.inFlight++;
      return true;
    }
    if (this.queued >= this.settings.maxQueue) return false;
    let waiter!: Waiter;
    const wait = new Promise<boolean>((resolve) => {
      waiter = { resolve, cancelTimer: () => {}, done: false };
    });
    waiter.cancelTimer = this.clock.setTimer(() => this.settle(waiter, false), this.settings.queueTimeoutMs);
    this.queue.push(waiter);
    this.waiting++;
    return { wait, cancel: () => this.settle(waiter, false) };
  }

  release(): void {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head++]!;
      if (w.done) continue;
      // The slot passes straight to the next waiter: inFlight stays the same.
      this.compact();
      w.done = true;
      this.waiting--;
      w.cancelTimer();
      w.resolve(true);
      return;
    }
    this.compact();
    this.inFlight--;
  }

  private settle(w: Waiter, ok: boolean): void {
    if (w.done) return;
    w.done = true;
    this.waiting--;
    w.cancelTimer();
    w.resolve(ok);
  }

  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
