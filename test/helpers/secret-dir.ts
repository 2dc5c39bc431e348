// A directory laid out like a mounted Kubernetes secret: tls.crt and tls.key are symlinks into
// `..data`, itself a symlink to a timestamped directory. An update writes a new directory and
// swaps `..data` with one rename — the files never change in place.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SecretDir {
  dir: string;
  certPath: string;
  keyPath: string;
  /** Puts new contents in place by swapping `..data` (atomic, as the kubelet does). */
  swap(cert: string, key: string): void;
}

export function secretDir(dir: string, cert: string, key: string): SecretDir {
  mkdirSync(dir, { recursive: true });
  let version = 0;
  const write = (c: string, k: string): string => {
    const name = `..2026_12_04_${String(++version).padStart(2, '0')}`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'tls.crt'), c);
    writeFileSync(join(dir, name, 'tls.key'), k);
    return name;
  };
  symlinkSync(write(cert, key), join(dir, '..data'));
  symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
  symlinkSync('..data/tls.key', join(dir, 'tls.key'));
  return {
    dir,
    certPath: join(dir, 'tls.crt'),
    keyPath: join(dir, 'tls.key'),
    swap(c, k) {
      const name = write(c, k);
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    },
  };
}
