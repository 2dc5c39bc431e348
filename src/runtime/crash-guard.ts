// The last line of defence of a gateway process: an exception or rejection that escaped every
// handler is logged and the process keeps serving. Every request path already answers its own
// errors (the admin API and the data plane turn a throwing handler into a 500); this guard is for
// the bug nobody has found yet, so that one bad request or event costs a log line, not every
// in-flight request of every worker. (docs/decisions/0001, amendment of 2026-12-04.)
import type { Logger } from '../observability/logger.js';

let guarded = false;

/** `log` is called per event: a worker replaces its logger once its config's level is known. */
export function guardProcess(log: () => Logger): void {
  if (guarded) return;
  guarded = true;
  process.on('uncaughtException', (err, origin) => {
    log().error({ err, origin }, 'uncaught exception; the process keeps serving');
  });
  process.on('unhandledRejection', (reason) => {
    log().error({ err: reason }, 'unhandled promise rejection; the process keeps serving');
  });
}
