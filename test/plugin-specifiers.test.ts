// A plugin named by package is found from the config file's directory however the config path was
// given: `gatehouse validate --config gatehouse.yaml` (relative, the usual way) as well as an
// absolute path. (Regression: a relative config path made every package-name plugin fail with
// "The argument 'filename' must be a file URL object, file URL string, or absolute path string".)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { runCli, tempDir } from './helpers/child.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;
const dir = await tempDir();
after(() => dir.remove());

const PLUGIN = `import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'stamp', description: 'Stamps requests.', schema: z.strictObject({ type: z.literal('stamp') }),
  phases: ['upstreamRequest'], example: {},
  create: () => ({ upstreamRequest(ctx, headers) { headers.push('x-stamp', '1'); } }),
});
`;
// Two packages: one found by require.resolve ("main"), one ESM-only ("exports" with "import").
for (const [name, pkg] of [
  ['gatehouse-plugin-main', { name: 'gatehouse-plugin-main', type: 'module', main: 'index.js' }],
  ['gatehouse-plugin-esm', { name: 'gatehouse-plugin-esm', type: 'module', exports: { '.': { import: './index.js' } } }],
] as const) {
  mkdirSync(join(dir.path, 'node_modules', name), { recursive: true });
  writeFileSync(join(dir.path, 'node_modules', name, 'package.json'), JSON.stringify(pkg));
  writeFileSync(
    join(dir.path, 'node_modules', name, 'index.js'),
    name.endsWith('main') ? PLUGIN : PLUGIN.replace("'stamp'", "'stamp2'").replace("z.literal('stamp')", "z.literal('stamp2')"),
  );
}
const config = await dir.file(
  'gatehouse.yaml',
  `plugins: [gatehouse-plugin-main, gatehouse-plugin-esm]
services: { up: { targets: [{ url: "http://127.0.0.1:9" }] } }
routes: [{ name: r, service: up, policies: [{ type: stamp }, { type: stamp2 }] }]
`,
);

for (const [how, path] of [
  ['an absolute', config],
  ['a relative', 'gatehouse.yaml'],
  ['a ./relative', './gatehouse.yaml'],
] as const) {
  test(`package-name plugins load with ${how} config path`, async () => {
    const r = await runCli(['validate', '--config', path], { cwd: dir.path });
    assert.equal(r.code, 0, r.stderr);
  });
}
