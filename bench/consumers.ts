// How long 100,000 consumers (one API key each) take to validate and compile, and what a key
// lookup costs once compiled. Run: npx tsc -p . && node dist/bench/consumers.js [count]
import { validateConfig } from '../src/validation/validate.js';
import { compilePlan, noConnect } from '../src/dataplane/plan.js';
import { sha256 } from '../src/identity/secrets.js';

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

const lookups = 1_000_000;
t = process.hrtime.bigint();
let found = 0;
for (let i = 0; i < lookups; i++) if (plan.consumers.apiKey(sha256(`key-${i % count}-0123456789abcdef`)) !== undefined) found++;
const lookupNs = (ms(t) * 1e6) / lookups;
if (found !== lookups) throw new Error(`found ${found} of ${lookups}`);

console.log(
  `${count} consumers: validate ${validateMs.toFixed(0)} ms, compile (registry) ${compileMs.toFixed(0)} ms; key lookup incl. SHA-256 ${lookupNs.toFixed(0)} ns`,
);
