// A small seeded PRNG (mulberry32) so that tests and the bench get the same sequence every run.
// Production balancers use Math.random; this is only injected through the `random` option.

/** Returns a function like Math.random (uniform in [0, 1)) that is fully determined by `seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
