// How long 100,000 consumers (one API key each) take to validate and compile, and what a key
// lookup costs once compiled. Run: npx tsc -p . && node dist/bench/consumers.js [count]
import { validateConfig } from '../src/validation/validate.js';
import { compilePlan, noConnect } from '../src/dataplane/plan.js';

const count = Number(process.argv[2] ?? 100_000);
const doc = {
  services: { up: { targets: [{ url: 'http://127.0.0.1:9' }] } },
  consumers: Array.from({ length: count }, (_, i) => ({
    id: `c${i}`,
    groups: ['g'],
    credentials: [{ type: 'api-key', key: `key-${i}-0123456789abcdef` }],
  })),
  routes: [{ name: 'all', service: 'up', policies: [{ type: 'key-auth' }] }],
};

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
let t = process.hrtime.bigint();
const result = validateConfig(doc);
const validateMs = ms(t);
if (!result.ok) throw new Error(JSON.stringify(result.errors.slice(0, 3)));
t = process.hrtime.bigint();
const plan = compilePlan(result.config, noConnect);
const compileMs = ms(t);

const keys = Array.from({ length: count }, (_, i) => `key-${i}-0123456789abcdef`);
// First sight of each key: SHA-256 and the digest map; after that the registry knows the key.
t = process.hrtime.bigint();
let found = 0;
for (const k of keys) if (plan.consumers.apiKey(k) !== undefined) found++;
const coldNs = (ms(t) * 1e6) / count;
const lookups = 1_000_000;
t = process.hrtime.bigint();
for (let i = 0; i < lookups; i++) if (plan.consumers.apiKey(keys[i % count]!) !== undefined) found++;
const lookupNs = (ms(t) * 1e6) / lookups;
if (found !== lookups + count) throw new Error(`found ${found} of ${lookups + count}`);

console.log(
  `${count} consumers: validate ${validateMs.toFixed(0)} ms, compile (registry) ${compileMs.toFixed(0)} ms; key lookup: first ${coldNs.toFixed(0)} ns (SHA-256), then ${lookupNs.toFixed(0)} ns`,
);
