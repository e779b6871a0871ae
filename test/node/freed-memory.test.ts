// keepFreedMemoryResident (src/node/freed-memory.ts): a connection turns it on at its first message of 64 KiB or
// more; it makes one block sized for glibc's dynamic thresholds, once. Its effect on page faults is measured by the
// 64 KiB echo benchmark (docs/benchmarks.md), not here: it depends on when the garbage collector frees buffers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test, type TestContext } from 'node:test';
import ts from 'typescript';
import WebSocket from 'ws';
import { WebSocketServer } from '../../src/node/index.js';
import { freedMemoryKept } from '../../src/node/freed-memory.js';
import { closeServer } from './server-fixtures.js';

test('a connection turns it on at its first message of 64 KiB or more, not before', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0 });
  t.after(() => closeServer(wss));
  await once(wss, 'listening');
  const sizes: number[] = [];
  wss.on('connection', (conn) => conn.on('message', (data: Buffer) => sizes.push(data.length)));
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send(Buffer.alloc(64 * 1024 - 1));
  while (sizes.length < 1) await new Promise((r) => setTimeout(r, 5));
  assert.equal(freedMemoryKept(), false, 'a message under 64 KiB leaves the allocator alone');
  ws.send(Buffer.alloc(64 * 1024));
  while (sizes.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(freedMemoryKept(), true);
});

// A plain child process (no tsx: loading it frees large buffers of its own) runs the module transpiled to JavaScript
// and reports how much ArrayBuffer memory each call made.
function blockBytes(env: NodeJS.ProcessEnv, t: TestContext, prelude = ''): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'hayate-freed-memory-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const source = readFileSync(new URL('../../src/node/freed-memory.ts', import.meta.url), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(dir, 'freed-memory.mjs'), js);
  const script = `
    import { keepFreedMemoryResident } from ${JSON.stringify(pathToFileURL(join(dir, 'freed-memory.mjs')).href)};
    ${prelude}
    const made = [];
    for (let i = 0; i < 3; i++) {
      const before = process.memoryUsage().arrayBuffers;
      keepFreedMemoryResident();
      made.push(process.memoryUsage().arrayBuffers - before);
    }
    console.log(JSON.stringify(made));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as number[];
}

test('it makes one block in the range glibc raises its thresholds for, once per process; HAYATE_KEEP_FREED_MEMORY=0 turns it off', (t) => {
  const [first, ...later] = blockBytes({}, t);
  // glibc adjusts its mmap and trim thresholds when a memory-mapped block over 128 KiB and at most 32 MiB is freed:
  // the larger, the more freed memory stays (the garbage collector frees message buffers 10 MB and more at a time).
  assert.ok(first > 16 * 1024 * 1024 && first <= 32 * 1024 * 1024, `one block of ${first} bytes`);
  assert.deepEqual(later, [0, 0], 'only the first call makes it');
  assert.deepEqual(blockBytes({ HAYATE_KEEP_FREED_MEMORY: '0' }, t), [0, 0, 0]);
});

test('where the block cannot be allocated (strict overcommit), nothing changes and nothing throws', (t) => {
  const failing = "Buffer.allocUnsafeSlow = () => { throw new RangeError('Array buffer allocation failed'); };";
  assert.deepEqual(blockBytes({}, t, failing), [0, 0, 0]);
});
