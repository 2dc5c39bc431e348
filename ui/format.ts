// Formatting for numbers, durations and times as the pages show them.

export function fmtInt(n: number | undefined | null): string {
  return n === undefined || n === null ? '–' : Math.round(n).toLocaleString('en-US');
}

export function fmtMs(n: number | undefined | null): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return n < 10 ? `${n.toFixed(2)} ms` : n < 1000 ? `${n.toFixed(0)} ms` : `${(n / 1000).toFixed(2)} s`;
}

export function fmtPct(ratio: number | undefined | null): string {
  return ratio === undefined || ratio === null ? '–' : `${(ratio * 100).toFixed(ratio < 0.1 ? 2 : 1)} %`;
}

export function fmtDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export function fmtTime(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString('en-GB', { hour12: false });
}
