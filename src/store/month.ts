// Calendar months in UTC, for monthly quotas.

/** [start, end) of the UTC calendar month containing `ms`. */
export function monthBounds(ms: number): [number, number] {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1)];
}
