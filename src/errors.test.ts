import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS } from './errors.js';

const root = new URL('../../', import.meta.url).pathname;
const registry = new Set(Object.keys(ERRORS));

test('every registered error code is documented in docs/errors.md, and nothing else is', () => {
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));
  for (const code of registry) assert.ok(documented.has(code), `${code} is not documented in docs/errors.md`);
  for (const code of documented) assert.ok(registry.has(code), `docs/errors.md documents ${code}, which is not in the registry`);
});

test('every registered error code is used somewhere in src/', () => {
  const sources: string[] = [];
  (function walk(dir: string) {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'errors.ts') sources.push(readFileSync(p, 'utf8'));
    }
  })(join(root, 'src'));
  const all = sources.join('\n');
  for (const code of registry) assert.ok(all.includes(`'${code}'`), `${code} is registered but never used`);
});

test('statuses are error statuses', () => {
  for (const [code, spec] of Object.entries(ERRORS)) assert.ok(spec.status >= 400 && spec.status <= 599, code);
});
