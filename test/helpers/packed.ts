// The package as a user gets it: `npm pack` of this checkout (its build in dist/), unpacked into a
// scratch project as node_modules/gatehouse, with the package's dependencies linked from this
// checkout's node_modules (the registry is not needed to test what the package itself contains).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, type TempDir } from './child.js';

/** This checkout (this file compiles to dist/test/helpers/packed.js). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** This checkout's TypeScript compiler, run with `node TSC -p …`. */
export const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

export interface PackedProject {
  /** The temp dir holding the tarball and the project (remove it in after()). */
  dir: TempDir;
  /** The paths packed, as `npm pack --json` lists them. */
  files: string[];
  /** The scratch project: package.json ({ type: module }) and node_modules/. */
  project: string;
  modules: string;
  /** The packed CLI, node_modules/gatehouse/dist/src/cli/main.js. */
  cli: string;
}

/** Packs this checkout once and unpacks it into a fresh scratch project. */
export async function packedProject(): Promise<PackedProject> {
  const dir = await tempDir();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const packed = JSON.parse(
    execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir.path], { cwd: ROOT, encoding: 'utf8' }),
  ) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  const project = join(dir.path, 'project');
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, 'gatehouse'), { recursive: true });
  execFileSync('tar', ['-xzf', join(dir.path, packed[0]!.filename), '-C', join(modules, 'gatehouse'), '--strip-components=1']);
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name.startsWith('.') || name === 'gatehouse') continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', type: 'module', private: true }));
  return { dir, files, project, modules, cli: join(modules, 'gatehouse/dist/src/cli/main.js') };
}
