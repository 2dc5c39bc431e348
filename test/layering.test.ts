// Layering (issue 16, part 4): dependency-cruiser checks src/ against .dependency-cruiser.cjs — no
// import cycle (type-only imports included), the data plane never imports the admin API, config
// imports nothing above it, nothing imports the CLI, shipped code never imports test helpers.
// Violations that predate the rules are listed in .dependency-cruiser-known-violations.json; any
// other fails this test. A second test proves the rules fire, on a scratch tree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/child.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const dir = await tempDir();
after(() => dir.remove());

function cruise(cwd: string, extra: string[] = []) {
  return spawnSync(process.execPath, [bin, 'src', '--config', join(root, '.dependency-cruiser.cjs'), '--output-type', 'json', ...extra], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

type Result = { summary: { violations: { rule: { name: string; severity: string }; from: string; to: string }[] } };

test('src/ has no layering violation beyond the known ones', () => {
  const r = cruise(root, ['--ignore-known', join(root, '.dependency-cruiser-known-violations.json')]);
  const out = JSON.parse(r.stdout) as Result;
  const fresh = out.summary.violations.filter((v) => v.rule.severity !== 'ignore').map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
  assert.deepEqual(fresh, [], `new layering violations (fix them; never add them to the known list):\n${fresh.join('\n')}`);
});

test('the known violations only shrink: each one listed still exists', () => {
  const known = JSON.parse(readFileSync(join(root, '.dependency-cruiser-known-violations.json'), 'utf8')) as {
    rule: { name: string };
    from: string;
    to: string;
  }[];
  const now = (JSON.parse(cruise(root).stdout) as Result).summary.violations;
  const current = new Set(now.map((v) => `${v.rule.name}|${v.from}|${v.to}`));
  const gone = known.filter((k) => !current.has(`${k.rule.name}|${k.from}|${k.to}`)).map((k) => `${k.rule.name}: ${k.from} → ${k.to}`);
  assert.deepEqual(gone, [], `fixed violations still listed: regenerate the list (see .dependency-cruiser.cjs)\n${gone.join('\n')}`);
});

test('the rules fire: a cycle, the data plane importing admin or the config store, config importing the data plane, src importing a test helper', () => {
  const files: Record<string, string> = {
    'src/dataplane/plane.ts': "import { serve } from '../admin/api.js';\nexport const plane = serve;\n",
    'src/admin/api.ts': 'export const serve = 1;\n',
    'src/config/load.ts':
      "import type { Cycle } from '../upstream/b.js';\nimport { plane } from '../dataplane/plane.js';\nexport type C = Cycle; export const x = plane;\n",
    'src/upstream/a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n",
    'src/upstream/b.ts': "import type { A } from './a.js';\nexport type B = { a?: A }; export type Cycle = A;\n",
    'src/edge/e.ts': "import { c } from '../controlplane/c.js';\nexport const e = c;\n",
    'src/controlplane/c.ts': 'export const c = 1;\n',
    'src/store/s.ts': "import { h } from '../../test/helpers/h.js';\nexport const s = h;\n",
    'test/helpers/h.ts': 'export const h = 1;\n',
  };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir.path, p, '..'), { recursive: true });
    writeFileSync(join(dir.path, p), text);
  }
  copyFileSync(join(root, 'tsconfig.json'), join(dir.path, 'tsconfig.json'));
  const out = JSON.parse(cruise(dir.path).stdout) as Result;
  const rules = new Set(out.summary.violations.map((v) => v.rule.name));
  for (const rule of [
    'no-circular',
    'dataplane-not-admin',
    'dataplane-not-controlplane',
    'config-depends-on-nothing-above',
    'src-not-test',
  ])
    assert.ok(rules.has(rule), `${rule} fired: ${JSON.stringify([...rules])}`);
});
