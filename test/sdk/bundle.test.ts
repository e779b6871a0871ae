// The SDK bundles for browsers on its own: no Node built-ins, no runtime dependency (zod stays type-only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

test('src/sdk bundles for the browser with no Node built-ins and no zod, as one small ESM file', async (t) => {
  const result = await build({
    entryPoints: ['src/sdk/index.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.every((path) => path.startsWith('src/sdk/')), `only SDK sources are bundled, got ${inputs.join(', ')}`);
  const code = result.outputFiles[0]?.text ?? '';
  assert.doesNotMatch(code, /from\s*["']node:|require\(/);
  assert.match(code, /export\s*\{/);
  const gzip = gzipSync(code, { level: 9 }).length;
  t.diagnostic(`hayate-sdk.js: ${code.length} bytes minified, ${gzip} bytes gzip`);
});
