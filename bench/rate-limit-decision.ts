// Micro-bench: the cost of one memory-store rate-limit decision, alone and through the whole
// rate-limit policy (key, store, headers). Goal: ≤ 2 µs per decision.
//   npx tsc -p . && node dist/bench/rate-limit-decision.js
import { ConsumerRegistry } from '../src/identity/registry.js';
import { silentLogger } from '../src/observability/logger.js';
import type { IncomingMessage } from 'node:http';
import { MemoryStore } from '../src/store/memory.js';
import { StoreRegistry } from '../src/store/registry.js';
import { validateConfig } from '../src/validation/validate.js';
import { rateLimitPolicy } from '../src/policies/rate-limit/rate-limit.js';
import type { RequestContext } from '../src/policies/types.js';

const N = Number(process.env.N ?? 2_000_000);

function measure(name: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < 200_000; i++) fn(i); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${name.padEnd(58)} ${(ns / 1000).toFixed(3)} µs/decision`);
}

const store = new MemoryStore();
const keys = Array.from({ length: 10_000 }, (_, i) => `r|100-per-1m|c=user-${i}`);
measure('memory sliding-window, 1 key', () => store.slidingWindow('k', 1e9, 60_000, 1));
measure('memory sliding-window, 10,000 keys', (i) => store.slidingWindow(keys[i % 10_000]!, 1e9, 60_000, 1));
measure('memory fixed-window, 10,000 keys', (i) => store.fixedWindow(keys[i % 10_000]!, 1e9, 60_000, 1));
measure('memory token-bucket, 10,000 keys', (i) => store.tokenBucket(keys[i % 10_000]!, 1e9, 60_000, 1e9, 1));
measure('memory leaky-bucket (GCRA), 10,000 keys', (i) => store.leakyBucket(keys[i % 10_000]!, 1e9, 60_000, 1e9, 1));

// The whole policy: the perf-compare config, key by consumer, headers prepared.
const result = validateConfig({
  services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
  routes: [
    {
      name: 'r',
      service: 's',
      policies: [{ type: 'rate-limit', algorithm: 'sliding-window', limit: 1000000000, window: '1m', by: 'consumer' }],
    },
  ],
});
if (!result.ok) throw new Error(JSON.stringify(result.errors));
const policy = rateLimitPolicy.create(result.config.routes[0]!.policies[0] as never, {
  config: result.config,
  stores: new StoreRegistry(),
  routeName: 'r',
  consumers: new ConsumerRegistry([]),
  log: silentLogger,
});
const ctxs: RequestContext[] = Array.from({ length: 1000 }, (_, i) => ({
  req: { headers: {} } as unknown as IncomingMessage,
  requestId: 'x',
  method: 'GET',
  host: 'h',
  path: '/',
  query: '',
  clientIp: '127.0.0.1',
  routeName: 'r',
  serviceName: 's',
  params: {},
  identity: { consumerId: `consumer-${i}`, groups: [] },
  locals: new Map(),
}));
// Each request has fresh locals in the gateway: clear them, as a new request would start.
measure('rate-limit policy access() (perf-compare config), 1,000 consumers', (i) => {
  const ctx = ctxs[i % 1000]!;
  ctx.locals.clear();
  return policy.access!(ctx);
});
store.close();
