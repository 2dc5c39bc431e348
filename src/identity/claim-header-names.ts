// Every header name a claim→header mapping (`claimHeaders`) of the config writes, lower-cased. A
// client's own copies are removed on every route — not only on routes whose policy maps them — so
// no service can mistake a client's header for a verified claim.

/** Walks policy configs (including those nested in `auth`'s anyOf/allOf) for claimHeaders keys. */
export function claimHeaderNames(policies: readonly unknown[]): string[] {
  const names = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return (v as unknown[]).forEach(visit);
    if (typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'claimHeaders' && typeof x === 'object' && x !== null) for (const h of Object.keys(x)) names.add(h.toLowerCase());
      else visit(x);
    }
  };
  visit(policies);
  return [...names];
}
