// The package as a user gets it: `npm pack` (of the build in dist/), unpacked into a scratch
// project's node_modules, imported by name from JavaScript and from TypeScript, and run. Compiled
// tests are not in it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUpstream } from './helpers/upstream.js';
import { packedProject, ROOT as root } from './helpers/packed.js';

// A scratch project: the tarball unpacked as node_modules/gatehouse, its dependencies linked from
// this checkout (the registry is not needed to test what the package itself contains).
const { dir, files, project } = await packedProject();
after(() => dir.remove());

test('npm pack ships the build and the docs, and no compiled test', () => {
  assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts'), 'the entry is packed');
  assert.ok(files.includes('dist/src/cli/main.js'), 'the CLI is packed');
  assert.ok(files.includes('schema/gatehouse.schema.json'));
  for (const f of ['index.html', 'app.js', 'app.css']) assert.ok(files.includes(`dist/ui/${f}`), `the console's ${f} is packed`);
  assert.deepEqual(
    files.filter((f) => /\.test\.|(^|\/)test\//.test(f)),
    [],
    'no compiled tests',
  );
  assert.deepEqual(
    files.filter((f) => f.endsWith('.map')),
    [],
    'no source maps (they point at sources that are not packed)',
  );
});

test('a scratch project imports the package by name and runs a gateway with it', async () => {
  const up = await startUpstream();
  try {
    writeFileSync(
      join(project, 'run.mjs'),
      `
      import { startGateway, validateConfig, silentLogger, ERRORS, VERSION } from 'gatehouse';
      const r = validateConfig({
        accessLog: false, log: { level: 'silent' },
        listen: [{ port: 0, host: '127.0.0.1' }], admin: { enabled: false },
        services: { up: { targets: [{ url: ${JSON.stringify(up.url)} }] } },
        routes: [{ name: 'all', match: { paths: ['/*'] }, service: 'up' }],
      });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      const gw = await startGateway({ config: r.config, logger: silentLogger });
      const res = await fetch('http://127.0.0.1:' + gw.listeners[0].port + '/hello');
      await res.arrayBuffer();
      await gw.stop();
      console.log(JSON.stringify({ status: res.status, version: VERSION, code: ERRORS.GW_ROUTE_NOT_FOUND.status }));
    `,
    );
    // Asynchronously: the upstream answering it lives in this process.
    const r = await promisify(execFile)(process.execPath, ['run.mjs'], { cwd: project, encoding: 'utf8', timeout: 30_000 });
    const out = JSON.parse(r.stdout.trim()) as { status: number; version: string; code: number };
    assert.equal(out.status, 200);
    assert.equal(typeof out.version, 'string');
    assert.equal(out.code, 404);
  } finally {
    await up.close();
  }
});

test('TypeScript resolves the package types (NodeNext, strict)', () => {
  writeFileSync(
    join(project, 'check.ts'),
    `
    import { startGateway, validateConfig, type GatehouseConfig, type Gateway } from 'gatehouse';
    const r = validateConfig({});
    export async function run(config: GatehouseConfig): Promise<Gateway> { return startGateway({ config }); }
    export const ok: boolean = r.ok;
    // @ts-expect-error: internals are not part of the public entry
    import { DataPlane } from 'gatehouse/dist/src/dataplane/dataplane.js';
    void DataPlane;
  `,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      files: ['check.ts'],
    }),
  );
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: project,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
