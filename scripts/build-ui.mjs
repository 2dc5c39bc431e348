#!/usr/bin/env node
// Builds the admin console (ui/) into dist/ui: index.html, app.js and app.css, minified, no
// source maps. The admin listener serves exactly the files found here when it starts
// (src/admin/console/static.ts). esbuild bundles Preact and uPlot in: nothing is fetched at run time.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/ui`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: `${root}ui/main.tsx` },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  // Only what the code itself fetches: no CDN, no web fonts.
  loader: { '.svg': 'dataurl', '.png': 'dataurl' },
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(`${root}ui/index.html`, `${out}/index.html`);
// A front end without styles still gets the file index.html links.
if (!existsSync(`${out}/app.css`)) writeFileSync(`${out}/app.css`, '');
