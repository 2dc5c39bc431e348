// `npm start`: the demo services plus the gateway on examples/quickstart.yaml.
import { fileURLToPath } from 'node:url';
import { startDemoBackend } from './backends.js';
import { startGateway, ConfigLoadError } from '../gateway.js';

const configPath = fileURLToPath(new URL('../../../examples/quickstart.yaml', import.meta.url));

async function main(): Promise<void> {
  const backends = await Promise.all([
    startDemoBackend('users', 3001),
    startDemoBackend('orders-a', 3002),
    startDemoBackend('orders-b', 3003),
  ]);
  const gw = await startGateway({ configPath, signals: true });
  const base = `http://127.0.0.1:${gw.listeners[0]!.port}`;
  const admin = gw.admin ? `http://127.0.0.1:${gw.admin.port}` : undefined;
  process.stderr.write(`
Gatehouse is running on ${base} (demo services on ports ${backends.map((b) => b.port).join(', ')}).
Try:
  curl -i ${base}/api/v1/users/42          # → users service, path /users/42
  curl -i ${base}/api/v2/people/42         # v2 beside v1: rewritten to /users/42
  curl -i ${base}/api/v1/orders/7          # → orders, 3:1 over two targets
  curl -i ${base}/api/v0/anything          # retired API: 410 from the gateway
  curl -i ${base}/nowhere                  # no route: 404 GW_ROUTE_NOT_FOUND
${admin ? `  curl ${admin}/routes                     # the admin API: routes, services, config, openapi.json\n` : ''}Edit examples/quickstart.yaml and save: the gateway reloads it. Ctrl-C stops everything.
`);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigLoadError) process.stderr.write(err.message + '\n');
  else process.stderr.write(`quickstart failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
