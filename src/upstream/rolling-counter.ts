// Counts over a rolling time window in fixed buckets: O(1) to add, O(buckets) to sum.
import type { Clock } from './clock.js';

export class RollingCounter {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  private bucket = 0;
  private bucketStart = 0;

  constructor(
    windowMs: number,
    private readonly clock: Clock,
    /** How many series to count side by side (e.g. requests and failures). */
    private readonly series = 1,
    private readonly buckets = 10,
  ) {
    this.bucketMs = Math.max(1, windowMs / buckets);
    this.counts = new Float64Array(buckets * series);
    this.bucketStart = clock.now();
  }

  add(series = 0, n = 1): void {
    this.rotate();
    this.counts[this.bucket * this.series + series]! += n;
  }

  sum(series = 0): number {
    this.rotate();
    let s = 0;
    for (let b = 0; b < this.buckets; b++) s += this.counts[b * this.series + series]!;
    return s;
  }

  reset(): void {
    this.counts.fill(0);
  }

  private rotate(): void {
    const now = this.clock.now();
    let steps = Math.floor((now - this.bucketStart) / this.bucketMs);
    if (steps <= 0) return;
    if (steps >= this.buckets) {
      this.counts.fill(0);
      steps = this.buckets;
    } else {
      for (let i = 0; i < steps; i++) {
        this.bucket = (this.bucket + 1) % this.buckets;
        this.counts.fill(0, this.bucket * this.series, (this.bucket + 1) * this.series);
      }
    }
    this.bucketStart += Math.floor((now - this.bucketStart) / this.bucketMs) * this.bucketMs;
  }
}
