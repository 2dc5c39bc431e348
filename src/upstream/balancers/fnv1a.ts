// FNV-1a 32-bit over a string's UTF-16 code units, finished with murmur3's fmix32 so that keys
// differing only in their last characters ("svc#1", "svc#2") still land far apart on a 32-bit ring.
// Deterministic across processes and machines: every worker and every instance maps a key alike.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** A well-spread unsigned 32-bit hash of `s`. Not cryptographic: keys are not secrets here. */
export function hash32(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  // Full avalanche of the last characters, which FNV-1a alone leaves in the low bits.
  return mix32(h);
}

/** murmur3's fmix32 finaliser: every input bit flips each output bit with probability ~½. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
