// Starting and stopping a whole Gatehouse instance: config, data plane (in-process or workers),
// admin API, file watching and signals. The CLI's `start` and the integration tests use this.
import { readConfigFile } from './runtime/config-file.js';
import type { GatehouseConfig } from './config/schema.js';
import type { ConfigIssue } from './validation/validate.js';
import { AdminServer } from './admin/server.js';
import type { BoundListener } from './dataplane/dataplane.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Instance } from './runtime/instance.js';
import { PluginCreateError } from './dataplane/plan.js';
import { guardProcess } from './runtime/crash-guard.js';
import { validateConfig } from './validation/validate.js';
import { parseConfigText } from './validation/load.js';
import { readFile } from 'node:fs/promises';
import type { ClusterSync } from './controlplane/sync.js';

export interface GatewayOptions {
  /** A config file: watched for changes and re-read on SIGHUP. */
  configPath?: string;
  /** An already validated config (tests). */
  config?: GatehouseConfig;
  logger?: Logger;
  /** Watch the config file (default true when configPath is given). */
  watch?: boolean;
  /** Handle SIGTERM/SIGINT/SIGHUP (default false; the CLI turns it on). */
  signals?: boolean;
  /** Log uncaught exceptions and rejections instead of exiting (default false; the CLI turns it on). */
  guardProcess?: boolean;
}

export interface Gateway {
  instance: Instance;
  listeners: BoundListener[];
  admin: BoundListener | undefined;
  stop(): Promise<void>;
}

export class ConfigLoadError extends Error {
  constructor(readonly errors: ConfigIssue[]) {
    super(`invalid config:\n${errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
  }
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  let config = opts.config;
  if (!config) {
    if (!opts.configPath) throw new Error('startGateway needs configPath or config');
    const result = await readConfigFile(opts.configPath);
    if (!result.ok) throw new ConfigLoadError(result.errors);
    config = result.config;
  } else {
    // A config object from code (the package API, possibly plain JavaScript) gets the same checks
    // and defaults as a file: a missing admin.host must become loopback, not "every interface".
    const result = validateConfig(config);
    if (!result.ok) throw new ConfigLoadError(result.errors);
    config = result.config;
    // As for a boot file: with a store, routes given here would be silently shadowed by the store's.
    if (config.configStore) await bootConfigOnly(config);
  }
  const log = opts.logger ?? createLogger(config.log.level);
  if (opts.guardProcess) guardProcess(() => log);
  // With a config store the file is a boot file: the config itself comes from the store.
  let sync: ClusterSync | undefined;
  let version = 1;
  if (config.configStore) {
    if (opts.configPath) await bootFileOnly(opts.configPath);
    const { ClusterSync } = await import('./controlplane/sync.js');
    ({ sync, config, version } = await ClusterSync.boot(config, log));
  }
  let instance: Instance;
  try {
    instance = new Instance(config, log, sync ? undefined : opts.configPath, version);
  } catch (err) {
    // A plugin that cannot create its policy is a config error at its entry, like any other.
    await sync?.stop();
    if (err instanceof PluginCreateError) throw new ConfigLoadError([{ path: err.path, message: err.message }]);
    throw err;
  }
  const listeners = await instance.start().catch(async (err: unknown) => {
    await sync?.stop();
    throw err;
  });
  sync?.attach(instance, listeners[0]?.url ?? '');

  let adminServer: AdminServer | undefined;
  let admin: BoundListener | undefined;
  if (config.admin.enabled) {
    adminServer = new AdminServer(instance, log);
    try {
      admin = await adminServer.listen(config.admin.host, config.admin.port);
    } catch (err) {
      await sync?.stop();
      await instance.stop();
      throw err;
    }
  }
  if (opts.configPath && opts.watch !== false) instance.watchFile();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: draining in-flight requests');
      await sync?.stop();
      await instance.stop();
      await adminServer?.close();
      log.info('stopped');
    })());

  if (opts.signals) {
    let signalled = 0;
    const onStop = (signal: NodeJS.Signals) => {
      if (++signalled > 1) {
        log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(1);
      }
      void stop().then(() => process.exit(0));
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', () => void instance.reloadFromFile('SIGHUP', true));
    process.on('SIGUSR1', () => {
      log.info('SIGUSR1: reopening the access log');
      instance.reopenLogs();
    });
  }

  log.info({ listeners, admin, workers: instance.workerCount, configVersion: instance.version }, 'gatehouse started');
  return { instance, listeners, admin, stop };
}

/**
 * A config object given with configStore has the boot keys only. It may be a validated config, in
 * which every key is present: a key is refused when its value differs from what the boot keys alone
 * give (the default), i.e. when it would be silently replaced by the store's.
 */
async function bootConfigOnly(config: GatehouseConfig): Promise<void> {
  const { shadowedKeys } = await import('./controlplane/document.js');
  const extra = shadowedKeys(config);
  if (extra.length)
    throw new ConfigLoadError(
      extra.map((k) => ({
        path: k,
        message:
          'with configStore this lives in the config store, not the config given to startGateway: remove it here and `gatehouse apply -f` it',
      })),
    );
}

/** A boot file has the boot keys only: a route there would be silently shadowed by the store's. */
async function bootFileOnly(path: string): Promise<void> {
  const { storedKeysIn } = await import('./controlplane/document.js');
  const parsed = parseConfigText(await readFile(path, 'utf8'));
  const extra = parsed.ok ? storedKeysIn(parsed.doc) : [];
  if (extra.length)
    throw new ConfigLoadError(
      extra.map((k) => ({
        path: k,
        message: 'with configStore this lives in the config store, not the boot file: remove it here and `gatehouse apply -f` it',
      })),
    );
}
