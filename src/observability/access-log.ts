// The access log: one JSON line per request. Lines are handed to an asynchronous writer
// (pino's sonic-boom) so a slow disk or pipe never stalls a request.
import { pino } from 'pino';
import type { GatehouseConfig } from '../config/schema.js';

export interface AccessRecord {
  requestId: string;
  method: string;
  host: string | undefined;
  path: string;
  route: string | undefined;
  service: string | undefined;
  target: string | undefined;
  clientIp: string | undefined;
  status: number;
  durationMs: number;
  upstreamMs: number | undefined;
  error: string | undefined;
  aborted: boolean;
  /** The limit that would have refused this request, had its rate-limit policy not been in shadow mode. */
  shadowLimited?: string;
}

export interface AccessLog {
  write(rec: AccessRecord): void;
  flush(): void;
  reopen(): void;
}

export function createAccessLog(cfg: GatehouseConfig['accessLog']): AccessLog | undefined {
  if (cfg === false) return undefined;
  const path = typeof cfg === 'object' ? cfg.path : undefined;
  const dest = pino.destination({ dest: path ?? 1, sync: false, mkdir: path !== undefined, append: true });
  return {
    // A plain JSON line handed to sonic-boom's buffer; the write to the fd happens asynchronously.
    write: (rec) => dest.write(`{"time":"${new Date().toISOString()}",${JSON.stringify(rec).slice(1)}\n`),
    flush: () => { try { dest.flushSync(); } catch { /* not yet open or already closed */ } },
    reopen: () => dest.reopen(),
  };
}
