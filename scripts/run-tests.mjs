#!/usr/bin/env node
// Runs every test file under test/ (or the files/folders given) with Node's own test runner through tsx.
// Node 20's --test takes no globs, so the files are found here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) find(join(path, name), out);
  } else if (/\.test\.(ts|mjs|js)$/.test(path)) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test'];
const files = roots.flatMap((root) => find(root, []));
if (files.length === 0) {
  console.error('no test files found under', roots.join(' '));
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
