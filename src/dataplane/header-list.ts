// Helpers for flat header lists ([name, value, name, value, ...]). Names compared lowercase.
import type { HeaderList } from '../policies/types.js';

export function findHeader(headers: HeaderList, lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === lowerName.length && headers[i]!.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

export function removeHeader(headers: HeaderList, lowerName: string): void {
  let w = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i]!;
    if (n.length === lowerName.length && n.toLowerCase() === lowerName) continue;
    headers[w++] = n;
    headers[w++] = headers[i + 1]!;
  }
  headers.length = w;
}

export function setHeader(headers: HeaderList, lowerName: string, value: string): void {
  removeHeader(headers, lowerName);
  headers.push(lowerName, value);
}
