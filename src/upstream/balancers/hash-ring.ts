// The ring behind consistent-hash: sorted 32-bit points, each owned by a member. Point r of a
// member is derived from the hash of the member's key alone, so a point never moves while its
// member stays, and an update only takes out the points of members that left (or shrank) and
// merges in those of members that came (or grew): O(points) with no sort of the whole ring, which
// matters because the balancer rebuilds on every change of the healthy set (1,000 targets ×
// 160 points: ~2 ms instead of ~20 ms for a full sort on a dev machine). Equal points are
// ordered by member key, so every worker and every instance builds the same ring.
import { hash32, mix32 } from './fnv1a.js';

const GOLDEN = 0x9e3779b9;

interface Points {
  points: Uint32Array;
  owners: Int32Array;
  ranks: Int32Array;
}

export class HashRing<M extends { readonly key: string }> {
  private members: readonly M[] = [];
  private counts = new Int32Array(0);
  private ring: Points = { points: new Uint32Array(0), owners: new Int32Array(0), ranks: new Int32Array(0) };

  /** Number of points. */
  get size(): number {
    return this.ring.points.length;
  }

  /**
   * Replaces the members (no duplicates): member i gets counts[i] points (ranks 0 … counts[i]−1).
   * Points of members that stay, up to their new count, are kept as they are.
   */
  update(members: readonly M[], counts: Int32Array): void {
    const index = new Map<M, number>();
    members.forEach((m, i) => index.set(m, i));
    const old = this.ring;
    const remap = Int32Array.from(this.members, (m) => index.get(m) ?? -1);
    const kept = new Int32Array(members.length);
    this.members.forEach((_, j) => {
      const i = remap[j]!;
      if (i >= 0) kept[i] = Math.min(this.counts[j]!, counts[i]!);
    });

    // A: the old points that stay, already in order, with their owners renumbered.
    let aLen = 0;
    for (let k = 0; k < old.points.length; k++) {
      const i = remap[old.owners[k]!]!;
      if (i >= 0 && old.ranks[k]! < counts[i]!) aLen++;
    }
    const a = alloc(aLen);
    for (let k = 0, at = 0; k < old.points.length; k++) {
      const i = remap[old.owners[k]!]!;
      if (i >= 0 && old.ranks[k]! < counts[i]!) {
        a.points[at] = old.points[k]!;
        a.owners[at] = i;
        a.ranks[at++] = old.ranks[k]!;
      }
    }

    // B: the new points, sorted.
    let bLen = 0;
    members.forEach((_, i) => (bLen += counts[i]! - kept[i]!));
    const b = alloc(bLen);
    let at = 0;
    members.forEach((m, i) => {
      const base = hash32(m.key);
      for (let r = kept[i]!; r < counts[i]!; r++) {
        b.points[at] = mix32((base + Math.imul(r, GOLDEN)) | 0);
        b.owners[at] = i;
        b.ranks[at++] = r;
      }
    });
    radixSort(b);
    this.orderTies(b, members);

    this.members = members;
    this.counts = counts.slice();
    this.ring = this.merge(a, b, members);
  }

  /** Position of the first point at or after `h`, wrapping past the last; -1 when empty. */
  find(h: number): number {
    const points = this.ring.points;
    if (points.length === 0) return -1;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  /** Index (in the members given to update) of the owner of the point at `pos`. */
  ownerAt(pos: number): number {
    return this.ring.owners[pos]!;
  }

  private tieLess(p: Points, i: number, q: Points, j: number, members: readonly M[]): boolean {
    const ka = members[p.owners[i]!]!.key;
    const kb = members[q.owners[j]!]!.key;
    if (ka !== kb) return ka < kb;
    return p.ranks[i]! < q.ranks[j]! || (p.ranks[i] === q.ranks[j] && p.owners[i]! < q.owners[j]!);
  }

  /** After the radix sort equal points are in build order; put them in key order (rare, short runs). */
  private orderTies(p: Points, members: readonly M[]): void {
    for (let i = 1; i < p.points.length; i++) {
      for (let j = i; j > 0 && p.points[j] === p.points[j - 1] && this.tieLess(p, j, p, j - 1, members); j--) {
        swap(p, j, j - 1);
      }
    }
  }

  private merge(a: Points, b: Points, members: readonly M[]): Points {
    if (b.points.length === 0) return a;
    if (a.points.length === 0) return b;
    const out = alloc(a.points.length + b.points.length);
    let i = 0;
    let j = 0;
    for (let k = 0; k < out.points.length; k++) {
      const takeA =
        j >= b.points.length ||
        (i < a.points.length && (a.points[i]! < b.points[j]! || (a.points[i] === b.points[j] && this.tieLess(a, i, b, j, members))));
      const src = takeA ? a : b;
      const s = takeA ? i++ : j++;
      out.points[k] = src.points[s]!;
      out.owners[k] = src.owners[s]!;
      out.ranks[k] = src.ranks[s]!;
    }
    return out;
  }
}

function alloc(n: number): Points {
  return { points: new Uint32Array(n), owners: new Int32Array(n), ranks: new Int32Array(n) };
}

function swap(p: Points, i: number, j: number): void {
  const pt = p.points[i]!;
  p.points[i] = p.points[j]!;
  p.points[j] = pt;
  const o = p.owners[i]!;
  p.owners[i] = p.owners[j]!;
  p.owners[j] = o;
  const r = p.ranks[i]!;
  p.ranks[i] = p.ranks[j]!;
  p.ranks[j] = r;
}

/** Stable LSD radix sort on the points, four 8-bit passes, owners and ranks carried along. O(n). */
function radixSort(p: Points): void {
  const n = p.points.length;
  if (n < 2) return;
  let from = p;
  let to = alloc(n);
  const count = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(from.points[i]! >>> shift) & 0xff]!++;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const at = count[(from.points[i]! >>> shift) & 0xff]!++;
      to.points[at] = from.points[i]!;
      to.owners[at] = from.owners[i]!;
      to.ranks[at] = from.ranks[i]!;
    }
    const t = from;
    from = to;
    to = t;
  }
  // Four passes: the sorted data is back in p's own arrays.
}
