// Space-saving top-k (Metwally et al.): at most `capacity` counters whatever the number of
// distinct items. A new item replaces the smallest counter and inherits its count, so the heavy
// hitters are kept and their counts are over-estimated by at most the smallest count.
export class TopK {
  readonly counts = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  add(item: string, n = 1): void {
    const c = this.counts.get(item);
    if (c !== undefined) {
      this.counts.set(item, c + n);
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(item, n);
      return;
    }
    let minItem = '';
    let min = Infinity;
    for (const [k, v] of this.counts)
      if (v < min) {
        min = v;
        minItem = k;
      }
    this.counts.delete(minItem);
    this.counts.set(item, min + n);
  }

  /** The `k` largest, largest first. */
  top(k: number): { value: string; count: number }[] {
    return topOf(this.counts, k);
  }
}

export function topOf(counts: Map<string, number> | Record<string, number>, k: number): { value: string; count: number }[] {
  const entries = counts instanceof Map ? [...counts] : Object.entries(counts);
  return entries
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([value, count]) => ({ value, count }));
}
