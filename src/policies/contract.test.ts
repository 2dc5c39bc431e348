// The contract every policy type keeps, checked over every registered definition (a new policy is
// covered by registering it): documented in docs/policies.md, its example compiles into a route,
// the policy it creates implements no phase it does not declare, and its folder has tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_POLICIES, policyDefinition } from './index.js';
import { PHASES, POLICY_ORDER, phaseMismatch, type Policy } from './types.js';
import { validateConfig } from '../validation/validate.js';
import { compilePlan, noConnect } from '../dataplane/plan.js';

const root = new URL('../../../', import.meta.url).pathname;
const docs = readFileSync(join(root, 'docs/policies.md'), 'utf8');

/** What identity policies need around them: a consumer with a key and a password, in group "staff". */
const consumers = [
  {
    id: 'contract',
    groups: ['staff'],
    credentials: [
      { type: 'api-key', key: 'contract-key-0123456789' },
      { type: 'basic', username: 'contract', password: 'contract-password-1' },
    ],
  },
];

test('every type is registered once, under a name the config can use', () => {
  const types = BUILTIN_POLICIES.map((d) => d.type);
  assert.equal(new Set(types).size, types.length, 'no type registered twice');
  for (const t of types) {
    assert.match(t, /^[a-z][a-z0-9-]*$/);
    assert.equal(policyDefinition(t)?.type, t);
  }
});

for (const def of BUILTIN_POLICIES) {
  test(`${def.type}: documented, its example compiles, it implements only phases it declares, its folder has tests`, () => {
    assert.match(docs, new RegExp(`^#{2,3} \`${def.type}\``, 'm'), `docs/policies.md has a "## \`${def.type}\`" section`);
    assert.ok(def.description.length > 10, 'a description');
    assert.ok(def.phases.length > 0 && def.phases.every((p) => PHASES.includes(p)), 'declared phases are lifecycle phases');
    assert.ok(
      POLICY_ORDER.includes(def.order),
      `declares an ordering class (${POLICY_ORDER.join(', ')}), not ${JSON.stringify(def.order)}`,
    );

    const r = validateConfig({
      consumers,
      services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ name: 'r', service: 's', policies: [{ type: def.type, ...def.example }] }],
    });
    assert.ok(r.ok, `the example validates: ${JSON.stringify(!r.ok && r.errors)}`);
    const plan = compilePlan(r.config, noConnect);
    const compiled = plan.routes[0]!.policies.find((p) => p.type === def.type)!;
    assert.deepEqual(compiled.phases, def.phases);
    assert.equal(compiled.order, def.order);
    assert.equal(phaseMismatch(def, compiled.policy), undefined);
    for (const phase of PHASES) {
      if (typeof compiled.policy[phase] === 'function')
        assert.ok(def.phases.includes(phase), `implements ${phase}, which it does not declare`);
    }
    assert.ok(
      def.phases.some((phase) => typeof compiled.policy[phase] === 'function'),
      'its example runs in at least one declared phase',
    );
    for (const p of plan.routes[0]!.policies) p.policy.close?.();

    const folder = join(root, 'src/policies', def.type);
    assert.ok(existsSync(folder), `src/policies/${def.type}/ exists`);
    assert.ok(
      readdirSync(folder).some((f) => f.endsWith('.test.ts')),
      `src/policies/${def.type}/ has its own *.test.ts`,
    );
  });
}

// An authentication policy's authenticator is what `auth` runs: its example works as a method there.
for (const def of BUILTIN_POLICIES.filter((d) => d.authenticator !== undefined)) {
  test(`${def.type}: its authenticator works as an auth method (its example nested in anyOf validates and compiles)`, () => {
    assert.equal(def.order, 'authenticate', 'an authentication policy runs in the authenticate class');
    const r = validateConfig({
      consumers,
      services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ name: 'r', service: 's', policies: [{ type: 'auth', anyOf: [{ type: def.type, ...def.example }] }] }],
    });
    assert.ok(r.ok, `the nested example validates: ${JSON.stringify(!r.ok && r.errors)}`);
    const plan = compilePlan(r.config, noConnect);
    for (const p of plan.routes[0]!.policies) p.policy.close?.();
  });
}

test('a policy that implements a phase its definition does not declare is named; leaving a declared one out is allowed', () => {
  const both: Policy = { access: () => undefined, log: () => undefined };
  assert.match(phaseMismatch({ type: 'sloppy', phases: ['access'] }, both)!, /"sloppy" implements log but declares only \[access\]/);
  assert.equal(phaseMismatch({ type: 'lean', phases: ['access', 'response'] }, { access: () => undefined }), undefined);
  assert.equal(phaseMismatch({ type: 'exact', phases: ['access', 'log'] }, both), undefined);
});
