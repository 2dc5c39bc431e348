// Starts a real gateway in this process on 127.0.0.1:0 (admin too) from a config object.
import { validateConfig } from '../../src/validation/validate.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';

export interface TestGateway extends Gateway {
  url: string;
  port: number;
  adminUrl: string;
}

/** Fills in test defaults: loopback port 0, admin on port 0, no access log. */
export function testConfig(partial: Record<string, unknown>): Record<string, unknown> {
  return {
    accessLog: false,
    listen: [{ port: 0, host: '127.0.0.1' }],
    ...partial,
    admin: { port: 0, host: '127.0.0.1', ...(partial.admin as object | undefined) },
    log: { level: 'silent', ...(partial.log as object | undefined) },
  };
}

/** A boot config for a config store: loopback port 0, admin on port 0, and nothing that lives in the store. */
export function testBoot(configStore: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const boot = testConfig(extra);
  delete boot.accessLog; // lives in the store
  return { ...boot, configStore };
}

export async function startTestGateway(partial: Record<string, unknown>): Promise<TestGateway> {
  const result = validateConfig(testConfig(partial));
  if (!result.ok) throw new Error('test config invalid: ' + JSON.stringify(result.errors));
  const gw = await startGateway({ config: result.config, logger: silentLogger });
  const port = gw.listeners[0]!.port;
  return Object.assign(gw, {
    port,
    url: `http://127.0.0.1:${port}`,
    adminUrl: gw.admin ? `http://127.0.0.1:${gw.admin.port}` : '',
  });
}
