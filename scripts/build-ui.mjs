#!/usr/bin/env node
// Builds the console (ui/) into dist/ui/: index.html, app.js and app.css (esbuild, minified, no
// source maps). The admin listener serves exactly these files at /ui/.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';

const root = new URL('..', import.meta.url).pathname;
const out = `${root}dist/ui`;
await mkdir(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { app: 'ui/main.tsx' },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(`${root}ui/index.html`, `${out}/index.html`);
