// Every complete config shown in README.md and docs/ passes `gatehouse validate`, so copying one
// works.
//
// Which blocks count: a ```yaml block is a complete config when it has both `services:` and
// `routes:` as top-level keys (at the start of a line) — a config that sends requests somewhere.
// Blocks that show one section (`services:` alone, `listen:` with TLS files, `routes:` naming a
// service defined elsewhere, policy lists) are fragments and are skipped. The recognition is
// textual, so a block that is not even valid YAML is still checked. Blocks are validated with no
// environment variables set: a `${VAR}` in a complete example needs a default (`${VAR:-}`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, tempDir, type TempDir } from './helpers/child.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(): string[] {
  const out = [join(root, 'README.md')];
  (function walk(dir: string) {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) out.push(join(dir, e.name));
    }
  })(join(root, 'docs'));
  return out;
}

interface Block {
  where: string;
  text: string;
}

function completeConfigs(): Block[] {
  const blocks: Block[] = [];
  for (const file of markdownFiles()) {
    const md = readFileSync(file, 'utf8');
    for (const m of md.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) {
      const text = m[1]!;
      if (!/^services:/m.test(text) || !/^routes:/m.test(text)) continue;
      const line = md.slice(0, m.index).split('\n').length;
      blocks.push({ where: `${relative(root, file)}:${line}`, text });
    }
  }
  return blocks;
}

let dir: TempDir;
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await dir.remove();
});

test('every complete config in README.md and docs/ passes gatehouse validate', async () => {
  const blocks = completeConfigs();
  // README's minimal config, configuration.md's top level, resilience.md's retries: the rule
  // must keep finding them, or this test would pass by checking nothing.
  for (const where of ['README.md:', 'docs/configuration.md:', 'docs/resilience.md:']) {
    assert.ok(
      blocks.some((b) => b.where.startsWith(where)),
      `no complete config found in ${where}`,
    );
  }
  const failures: string[] = [];
  for (const [i, b] of blocks.entries()) {
    const file = await dir.file(`block-${i}.yaml`, b.text);
    const r = await runCli(['validate', '-c', file], { env: {} });
    if (r.code !== 0) failures.push(`${b.where} (exit ${r.code}):\n${r.stderr}`);
  }
  assert.deepEqual(failures, []);
});
