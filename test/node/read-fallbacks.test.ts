// The transport's fallbacks for runtimes that lack what its fast read path uses (docs/decisions/shared-read-buffer.md):
// - without WebAssembly (`node --no-expose-wasm`), masking falls back to the word loop and the shared read buffer to
//   a plain buffer (src/protocol/mask-simd.ts, mask.ts);
// - on a Node whose sockets lack the `kBuffer`/`kBufferCb` keys of its `onread` mode, sockets keep their 'data' events
//   (src/node/connection.ts, `#readIntoSharedBuffer`).
// Node 20 has both, so each runs in a child process made to lack one: a real server echoing a real `ws` client's
// masked frames, long ones spanning reads included, byte for byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const src = (path: string): string => JSON.stringify(pathToFileURL(new URL(`../../src/${path}`, import.meta.url).pathname).href);

/**
 * echoInChild runs, in a child process started with `nodeArgs`, an echo server (`wss` on `http`), then `prelude`, then
 * a ws client's echoes, then `checks` (with `serverSocket`, the accepted socket, in scope), and expects OK.
 */
function echoInChild(nodeArgs: string[], prelude: string, checks: string): void {
  const script = `
    import assert from 'node:assert/strict';
    import { once } from 'node:events';
    import { createServer } from 'node:http';
    import WebSocket from 'ws';
    import { WebSocketServer } from ${src('node/index.ts')};
    import { sharedReadBuffer } from ${src('protocol/index.ts')};
    import { maskSimd } from ${src('protocol/mask-simd.ts')};
    const onreadKey = (socket, name) => Object.getOwnPropertySymbols(socket).find((k) => k.description === name);

    const http = createServer();
    const wss = new WebSocketServer({ server: http, heartbeatInterval: 0 });
    ${prelude}
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    let serverSocket = null;
    wss.on('connection', (conn, request) => {
      serverSocket = request.socket;
      conn.on('message', (data, isBinary) => conn.send(data, { binary: isBinary }));
    });
    const ws = new WebSocket('ws://127.0.0.1:' + http.address().port);
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
    ${checks}
    ws.terminate();
    wss.close();
    http.close();
    console.log('OK');
  `;
  const run = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: new URL('../..', import.meta.url).pathname,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim().split('\n').at(-1), 'OK');
}

test('without WebAssembly the server masks with the word loop, reads into a plain shared buffer, and echoes intact', () => {
  echoInChild(
    ['--no-expose-wasm'],
    `assert.equal(typeof WebAssembly, 'undefined');
     assert.equal(maskSimd, null, 'no SIMD masking without WebAssembly');
     assert.equal(sharedReadBuffer().length, 256 * 1024);`,
    // the accepted socket reads into the plain shared buffer, through Node's onread mode
    `assert.equal(serverSocket[onreadKey(serverSocket, 'kBuffer')], sharedReadBuffer());`,
  );
});

test('on a Node whose sockets lack the onread keys, sockets keep their data events and echo intact', () => {
  echoInChild(
    [],
    // every accepted socket loses the keys before the upgrade hands it to a Connection
    `http.on('connection', (socket) => {
       for (const name of ['kBuffer', 'kBufferCb']) delete socket[onreadKey(socket, name)];
     });`,
    `assert.equal(onreadKey(serverSocket, 'kBuffer'), undefined);`,
  );
});
