#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's test runner.
// Node 20 and Node 24 disagree on how `node --test` expands arguments, so the list is explicit.
// Usage: node scripts/run-tests.mjs [filter...]   (filters match file paths)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(root);
const chosen = files.filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x))).sort();
if (chosen.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const args = ['--test', '--test-timeout=120000', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`];
if (!process.stdout.isTTY) args.push('--test-reporter=spec');
const r = spawnSync(process.execPath, [...args, ...chosen], { stdio: 'inherit' });
process.exit(r.status ?? 1);
