// Entry point of a cluster worker: a data plane driven by the primary's messages.
import { DataPlane } from '../dataplane/dataplane.js';
import { createLogger } from '../observability/logger.js';
import type { ToPrimary, ToWorker } from './messages.js';
import type { DecisionReply } from '../store/ipc.js';
import { guardProcess } from './crash-guard.js';
import { loadResolvedPlugins } from '../policies/plugins.js';

let dp: DataPlane | undefined;
let log = createLogger('info');
guardProcess(() => log);
const send = (m: ToPrimary) => process.send?.(m);

// The primary's rate-limit answers come this way too (the IpcStore takes them): they fall through.
process.on('message', (m: ToWorker | DecisionReply) => {
  void handle(m).catch((err: unknown) => {
    log.error({ err }, 'worker error');
    send({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
});
// Only now can a message reach this worker: the cluster's 'online' event comes before this module
// has loaded, and a message sent then is dropped.
send({ t: 'up' });

/** Configs are applied in the order they came, even while one waits for its plugins to import. */
let configs: Promise<void> = Promise.resolve();

async function handle(m: ToWorker | DecisionReply): Promise<void> {
  if (m.t === 'config') {
    const applied = configs.then(() => applyConfig(m));
    configs = applied.catch(() => {});
    await applied;
  } else if (m.t === 'consumers') {
    // In turn with configs: a change sent after a config applies to that config's plan.
    const applied = configs.then(() => {
      dp?.applyConsumers(m.delta);
      send({ t: 'applied', version: m.version });
    });
    configs = applied.catch(() => {});
    await applied;
  } else if (m.t === 'activeHealth') {
    dp?.setActiveHealth(m.service, m.targets);
  } else if (m.t === 'inspect') {
    send({ t: 'inspected', id: m.id, data: await dp?.inspect(m.query) });
  } else if (m.t === 'reopenLogs') {
    dp?.reopenLogs();
  } else if (m.t === 'shutdown') {
    await shutdown();
  }
}

async function applyConfig(m: Extract<ToWorker, { t: 'config' }>): Promise<void> {
  // The primary loaded the config's plugins; this process imports them too (the resolved files).
  await loadResolvedPlugins(m.config.plugins, m.pluginDigests);
  if (!dp) {
    log = createLogger(m.config.log.level);
    dp = new DataPlane(m.config, log, { probes: 'remote' });
    const listeners = await dp.listen(m.config.listen, { reusePort: true });
    send({ t: 'listening', version: m.version, listeners });
  } else {
    dp.apply(m.config);
    send({ t: 'applied', version: m.version });
  }
}

async function shutdown(): Promise<void> {
  if (dp) await dp.drain();
  process.exit(0);
}

// Signals are the primary's to handle (a terminal's Ctrl-C reaches the whole process group);
// a worker stops when told to, or when its primary is gone.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});
process.on('SIGUSR1', () => {}); // log rotation: the primary forwards it as a message
process.on('disconnect', () => void shutdown());
