#!/usr/bin/env node
// Builds the chat page and the browser bundle of the SDK with esbuild:
//   web/src/main.ts  → web/dist/main.js (ESM, minified, with a source map), plus web/index.html and web/style.css;
//   src/sdk/index.ts → web/dist/hayate-sdk.js (ESM, minified): the SDK alone, whose gzip size is printed for the README.
// `--watch` rebuilds the page on change. It does not start a server (`hayate serve --dev` serves web/dist/).
import { build, context } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'web', 'dist');
mkdirSync(out, { recursive: true });

const common = { bundle: true, format: 'esm', platform: 'browser', target: ['es2022'], minify: true, legalComments: 'none', logLevel: 'warning' };
const page = { ...common, entryPoints: [join(root, 'web', 'src', 'main.ts')], outfile: join(out, 'main.js'), sourcemap: true };

for (const file of ['index.html', 'style.css']) copyFileSync(join(root, 'web', file), join(out, file));

if (process.argv.includes('--watch')) {
  const ctx = await context(page);
  await ctx.watch();
  console.log('watching web/src for changes');
} else {
  await build(page);
  await build({ ...common, entryPoints: [join(root, 'src', 'sdk', 'index.ts')], outfile: join(out, 'hayate-sdk.js') });
  const sdk = readFileSync(join(out, 'hayate-sdk.js'));
  const pageJs = readFileSync(join(out, 'main.js'));
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`web/dist/hayate-sdk.js ${kib(sdk.length)} minified, ${kib(gzipSync(sdk, { level: 9 }).length)} gzip`);
  console.log(`web/dist/main.js       ${kib(pageJs.length)} minified, ${kib(gzipSync(pageJs, { level: 9 }).length)} gzip`);
}
