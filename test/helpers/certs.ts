// Certificates for TLS tests, made fresh by the openssl CLI in a temp directory (nothing
// committed, so nothing expires): a CA, a server certificate for 127.0.0.1, client certificates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}
export interface TestPki {
  dir: string;
  ca: Pair;
  server: Pair;
  client(name: string, cn: string, san?: string, selfSigned?: boolean): Pair;
  cleanup(): void;
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (name: string): Pair => ({
    cert: readFileSync(join(dir, `${name}.pem`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
    certPath: join(dir, `${name}.pem`),
    keyPath: join(dir, `${name}.key`),
  });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=Gatehouse Test CA');
  const issue = (name: string, cn: string, san: string | undefined, selfSigned = false) => {
    if (selfSigned) {
      ssl('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-subj', `/CN=${cn}`);
      return;
    }
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '3650',
      '-extfile',
      ext,
    );
  };
  issue('server', 'localhost', 'IP:127.0.0.1,DNS:localhost');
  return {
    dir,
    ca: read('ca'),
    server: read('server'),
    client(name, cn, san, selfSigned) {
      issue(name, cn, san, selfSigned);
      return read(name);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
