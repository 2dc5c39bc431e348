// Host patterns: exact "api.example.com" or wildcard "*.example.com" (one or more labels).

export type HostPattern = { exact: string } | { suffix: string };

export function parseHostPattern(raw: string): HostPattern | { error: string } {
  const h = raw.trim().toLowerCase();
  if (h.startsWith('*.')) {
    const rest = h.slice(2);
    if (!isHostname(rest)) return { error: `"${raw}" is not a host or "*.domain" pattern` };
    return { suffix: '.' + rest };
  }
  if (!isHostname(h)) return { error: `"${raw}" is not a host or "*.domain" pattern` };
  return { exact: h };
}

function isHostname(h: string): boolean {
  return /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(h) || /^\[[0-9a-f:.]+\]$/.test(h);
}

/** Lowercased host without port, as routing compares it. */
export function normalizeHost(header: string | undefined): string {
  if (!header) return '';
  let h = header;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    return (end === -1 ? h : h.slice(0, end + 1)).toLowerCase();
  }
  const colon = h.indexOf(':');
  if (colon !== -1) h = h.slice(0, colon);
  return h.toLowerCase();
}
