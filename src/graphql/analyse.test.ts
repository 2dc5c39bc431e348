// The analysis of an operation: counts with fragments expanded, and the cost's list sizes — from
// list arguments (the largest), variables and their declared defaults, the schema's argument
// defaults, and the schema's @cost / @listSize directives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse } from 'graphql';
import { analyse, type Analysis, type CostModel } from './analyse.js';

const MODEL: CostModel = { objectCost: 1, scalarCost: 0, listArguments: ['first', 'last'], defaultListSize: 10, fields: new Map() };
const schema = buildSchema(`
  directive @cost(weight: Int!) on FIELD_DEFINITION
  directive @listSize(assumedSize: Int, slicingArguments: [String!]) on FIELD_DEFINITION
  type Query { items(first: Int, last: Int): [Item!]! paged(first: Int = 50): [Item!]! tags: [String!]! @cost(weight: 3) @listSize(assumedSize: 7) }
  type Item { id: ID! parts: [Item!]! }
`);

function run(doc: string, variables?: Record<string, unknown>, withSchema = false): Analysis {
  const r = analyse(parse(doc), undefined, variables, MODEL, withSchema ? schema : undefined);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.analysis;
}

test('the largest list argument sizes a list: first: 1, last: 1000 is 1000', () => {
  assert.equal(run('{ items(first: 1, last: 1000) { id } }').cost, 1000);
});

test('a variable left out takes its declared default; one given is used', () => {
  assert.equal(run('query Q($n: Int = 40) { items(first: $n) { id } }').cost, 40);
  assert.equal(run('query Q($n: Int = 40) { items(first: $n) { id } }', { n: 3 }).cost, 3);
});

test("with a schema: a list argument's default in the schema, @cost and @listSize", () => {
  assert.equal(run('{ paged { id } }', undefined, true).cost, 50);
  assert.equal(run('{ items { parts { id } } }', undefined, true).cost, 10 * (1 + 10));
  assert.equal(run('{ tags }', undefined, true).cost, 7 * 3);
  // Without the schema nothing says these are lists.
  assert.equal(run('{ paged { id } }').cost, 1);
});

test('counts expand fragments; a fragment is measured once however often it is spread', () => {
  const a = run('{ items(first: 2) { ...F ...F } } fragment F on Item { x: id parts(first: 3) { id } }');
  assert.equal(a.aliases, 2);
  assert.equal(a.fields, 1 + 2 * 3);
  assert.equal(a.depth, 3);
  assert.equal(a.cost, 2 * (1 + 2 * 3 * (1 + 0)));
  assert.deepEqual(a.rootFieldNames, ['items']);
});
