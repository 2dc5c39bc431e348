// The gateway's own log (start-up, reloads, upstream failures): JSON lines on stderr, so stdout
// stays a clean stream of access-log lines.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info', dest: number | string = 2): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Never let a config secret reach a log line.
      redact: { paths: ['token', '*.token', 'headers.authorization', 'config.admin.token'], censor: '[redacted]' },
    },
    pino.destination({ dest, sync: true }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
