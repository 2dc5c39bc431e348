// Micro-bench: what the graphql policy's checks cost per operation — parsing, validation against
// the schema, the analysis (depth, aliases, fields, cost) and the limits — with a warm parse
// cache (the steady state: clients repeat their operations) and cold (every document new).
//   npx tsc -p . && node dist/bench/graphql.js
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { ParseCache } from '../src/graphql/parse-cache.js';
import { Checker, costModel } from '../src/policies/graphql/check.js';
import { graphqlSchema } from '../src/policies/graphql/schema.js';

const N = Number(process.env.N ?? 200_000);
const schema = buildSchema(readFileSync(new URL('../../examples/graphql-schema.graphql', import.meta.url), 'utf8'));
const config = graphqlSchema.parse({ type: 'graphql', maxComplexity: 100_000 });

const OPERATIONS: Record<string, string> = {
  'small (1 field)': '{ hello }',
  'typical (user, friends, posts: 9 fields)':
    'query Profile($id: ID!) { user(id: $id) { id name email friends(first: 5) { id name } posts(first: 3) { id title } } }',
  'fragments (2 fragments, 27 fields)': `query Feed { users(first: 10) { ...U friends(first: 3) { ...U posts { ...P } } } search(term: "a") { ...P author { ...U } } }
    fragment U on User { id name email }
    fragment P on Post { id title }`,
};

function checker(withSchema: boolean, cache = new ParseCache({ maxEntries: 1000, maxBytes: 32 << 20 })): Checker {
  return new Checker({
    config,
    maxDocumentBytes: 65_536,
    cache,
    model: costModel(config.cost),
    schema: () => (withSchema ? schema : undefined),
  });
}

function measure(name: string, fn: (i: number) => unknown, n = N): void {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${name.padEnd(72)} ${(ns / 1000).toFixed(2).padStart(8)} µs/operation`);
}

for (const [label, query] of Object.entries(OPERATIONS)) {
  for (const withSchema of [false, true]) {
    const c = checker(withSchema);
    const params = { query, variables: { id: '1' } };
    const r = c.check(params, 'POST', undefined);
    if (!r.ok) throw new Error(`${label}: ${r.refusal.code}`);
    measure(`warm  ${label}${withSchema ? ', schema' : ''}`, () => c.check(params, 'POST', undefined));
    // Cold: a new text each time (a comment makes it distinct), so parse, validate and analyse all run.
    const cold = checker(withSchema, new ParseCache({ maxEntries: 1, maxBytes: 1 << 20 }));
    measure(
      `cold  ${label}${withSchema ? ', schema' : ''}`,
      (i) => cold.check({ query: `${query} #${i}`, variables: { id: '1' } }, 'POST', undefined),
      N / 20,
    );
  }
}
