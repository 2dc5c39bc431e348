// A binary min-heap of entries that know their own position, so that an entry whose key changed
// (a target's in-flight count went up or down) moves to its place in O(log n) without a search.
// Used by least-connections and by round-robin's large-service mode.

export interface HeapEntry {
  /** Index in the heap array; maintained by the heap. */
  pos: number;
}

export class EntryHeap<E extends HeapEntry> {
  readonly items: E[] = [];

  /** `less(a, b)`: a must come out before b. Must be a strict total order (break ties). */
  constructor(private readonly less: (a: E, b: E) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  push(e: E): void {
    e.pos = this.items.length;
    this.items.push(e);
    this.up(e.pos);
  }

  pop(): E | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      last.pos = 0;
      this.down(0);
    }
    top.pos = -1;
    return top;
  }

  /** Restores the order after `e`'s key changed in either direction. */
  update(e: E): void {
    if (e.pos < 0) return;
    this.up(e.pos);
    this.down(e.pos);
  }

  private up(i: number): void {
    const items = this.items;
    const e = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.less(e, parent)) break;
      items[i] = parent;
      parent.pos = i;
      i = p;
    }
    items[i] = e;
    e.pos = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const e = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(items[r]!, items[l]!)) c = r;
      const child = items[c]!;
      if (!this.less(child, e)) break;
      items[i] = child;
      child.pos = i;
      i = c;
    }
    items[i] = e;
    e.pos = i;
  }
}
