// GET /certificates: what every TLS listener serves now — as loaded by the data planes, so a
// certificate renewed on disk shows here once the listeners took it (or, with `reloadError`, why
// they did not). With workers each process loads its own; equal answers are shown once.
import type { Controller } from '../runtime/instance.js';
import type { CertificateStatus } from '../edge/tls/listener-tls.js';

interface Shown extends CertificateStatus {
  expiresInSeconds: number;
  /** With workers: how many serve this very certificate (a renewal may reach them a moment apart). */
  workers?: number;
}

export async function certificatesEndpoint(ctl: Controller): Promise<[number, unknown]> {
  const planes = await ctl.inspect({ what: 'certificates' });
  const shown = new Map<string, Shown>();
  const now = Date.now();
  for (const plane of planes) {
    if (!Array.isArray(plane)) continue;
    for (const c of plane as CertificateStatus[]) {
      const key = `${c.listener}\n${c.at}\n${c.fingerprint256}`;
      const seen = shown.get(key);
      if (seen !== undefined) {
        if (seen.workers !== undefined) seen.workers++;
        continue;
      }
      const entry: Shown = { ...c, expiresInSeconds: Math.round((Date.parse(c.notAfter) - now) / 1000) };
      if (ctl.workerCount > 1) entry.workers = 1;
      shown.set(key, entry);
    }
  }
  return [200, { configVersion: ctl.version, certificates: [...shown.values()] }];
}
