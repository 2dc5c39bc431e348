// The local snapshot: the last version this instance applied, so that it can start while the
// database is down. Written whole and renamed into place: a crash never leaves half a file.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { StoredDocument } from './document.js';

export interface Snapshot {
  version: number;
  doc: StoredDocument;
}

export async function writeSnapshot(path: string, snap: Snapshot): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  // A leftover temporary file (a crash; pid 1 again in a container) would keep its own mode, and a
  // symlink there would be written through: remove it, then create the file new ('wx'), 0600.
  await rm(tmp, { force: true });
  try {
    await writeFile(tmp, JSON.stringify({ gatehouseSnapshot: 1, ...snap }), { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }); // no copy of the config's secrets left behind
    throw err;
  }
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
