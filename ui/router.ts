// The hash router: `#/overview` (the default), `#/routes`, … A hash route needs nothing from the
// server (every page is /ui/) and survives a reload.
import { useEffect, useState } from 'preact/hooks';

export const PAGES = ['overview', 'routes', 'services', 'consumers', 'config', 'cluster'] as const;
export type Page = (typeof PAGES)[number];

export interface Location {
  page: Page;
  /** What follows the page: `#/consumers/alice` → ["alice"]. */
  rest: string[];
}

export function parseHash(hash: string): Location {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(safeDecode);
  const first = parts[0] as Page | undefined;
  if (first !== undefined && (PAGES as readonly string[]).includes(first)) return { page: first, rest: parts.slice(1) };
  return { page: 'overview', rest: [] };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setLoc(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return loc;
}

export function href(page: Page, ...rest: string[]): string {
  return '#/' + [page, ...rest.map(encodeURIComponent)].join('/');
}
