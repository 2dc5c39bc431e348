// The local snapshot: the last version this instance applied, so that it can start while the
// database is down. Written whole and renamed into place: a crash never leaves half a file.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { StoredDocument } from './document.js';

export interface Snapshot {
  version: number;
  doc: StoredDocument;
}

export async function writeSnapshot(path: string, snap: Snapshot): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ gatehouseSnapshot: 1, ...snap }), { mode: 0o600 });
  await rename(tmp, path);
}

/** The snapshot, or undefined when there is none; a file that is not one is an error. */
export async function readSnapshot(path: string): Promise<Snapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const s = JSON.parse(text) as { gatehouseSnapshot?: number; version?: unknown; doc?: unknown };
  if (s.gatehouseSnapshot !== 1 || typeof s.version !== 'number' || typeof s.doc !== 'object' || s.doc === null)
    throw new Error(`${path} is not a gatehouse config snapshot`);
  return { version: s.version, doc: s.doc as StoredDocument };
}
