// Without WebAssembly (a runtime built or started without it: `node --no-expose-wasm`), masking falls back to the
// word loop and the shared read buffer to a plain buffer (src/protocol/mask-simd.ts, mask.ts). Node 20 always has
// WebAssembly SIMD, so the fallback runs only in a child process started without it: a real server echoing a real
// `ws` client's masked frames, long ones spanning reads included, byte for byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const src = (path: string): string => JSON.stringify(pathToFileURL(new URL(`../../src/${path}`, import.meta.url).pathname).href);

const script = `
  import assert from 'node:assert/strict';
  import { once } from 'node:events';
  import WebSocket from 'ws';
  import { WebSocketServer } from ${src('node/index.ts')};
  import { sharedReadBuffer } from ${src('protocol/index.ts')};
  import { maskSimd } from ${src('protocol/mask-simd.ts')};

  assert.equal(typeof WebAssembly, 'undefined');
  assert.equal(maskSimd, null, 'no SIMD masking without WebAssembly');
  const readBuffer = sharedReadBuffer();
  assert.equal(readBuffer.length, 256 * 1024);

  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0 });
  await once(wss, 'listening');
  let serverSocket = null;
  wss.on('connection', (conn, request) => {
    serverSocket = request.socket;
    conn.on('message', (data, isBinary) => conn.send(data, { binary: isBinary }));
  });
  const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port);
  await once(ws, 'open');
  const sent = [Buffer.from('héllo, wörld'), Buffer.alloc(0), Buffer.alloc(300 * 1024)];
  for (let i = 0; i < sent[2].length; i++) sent[2][i] = (i * 31 + 7) & 255;
  const got = [];
  ws.on('message', (data) => got.push(Buffer.from(data)));
  ws.send(sent[0].toString());
  ws.send(sent[1]);
  ws.send(sent[2]);
  while (got.length < 3) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 3; i++) assert.ok(got[i].equals(sent[i]), 'echo ' + i + ' intact');
  // the server's socket reads into the plain shared buffer (Node's onread mode)
  const kBuffer = Object.getOwnPropertySymbols(serverSocket).find((k) => k.description === 'kBuffer');
  assert.equal(serverSocket[kBuffer], readBuffer);
  ws.terminate();
  wss.close();
  console.log('OK');
`;

test('without WebAssembly the server masks with the word loop, reads into a plain buffer, and echoes intact', () => {
  const run = spawnSync(process.execPath, ['--no-expose-wasm', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: new URL('../..', import.meta.url).pathname,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim().split('\n').at(-1), 'OK');
});
