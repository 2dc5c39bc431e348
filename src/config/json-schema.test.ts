import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configJsonSchemaText } from './json-schema.js';
import { ConfigSchema } from '../policies/index.js';

test('schema/gatehouse.schema.json matches the schema (regenerate with `npm run schema`)', () => {
  const committed = readFileSync(new URL('../../../schema/gatehouse.schema.json', import.meta.url), 'utf8');
  assert.equal(
    committed,
    configJsonSchemaText(ConfigSchema),
    'schema/gatehouse.schema.json drifted: run `npm run build && npm run schema`',
  );
});

test('the JSON Schema carries the binding keys', () => {
  const s = JSON.parse(configJsonSchemaText(ConfigSchema)) as { properties: Record<string, unknown>; additionalProperties: unknown };
  for (const k of ['workers', 'accessLog', 'listen', 'admin', 'services', 'routes', 'policies', 'trustedProxies']) {
    assert.ok(k in s.properties, k);
  }
  assert.equal(s.additionalProperties, false);
});
