// permessage-deflate between our server and Chromium (headless Debian chromium through playwright-core). Chromium
// offers `permessage-deflate; client_max_window_bits`; our server answers with each parameter in turn (context
// takeover on and off per side, window bits 8 to 15 per side), and the page exchanges compressible text, binary and
// server-fragmented messages, several rounds each, while the server counts the bytes on the wire.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { launchChromium } from '../helpers/chromium.js';
import type { Connection } from '../../src/node/index.js';
import type { PerMessageDeflateOptions } from '../../src/protocol/index.js';
import { startServer } from '../node/server-fixtures.js';

const OPTION_SETS: PerMessageDeflateOptions[] = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((bits) => ({ serverMaxWindowBits: bits })),
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((bits) => ({ clientMaxWindowBits: bits })),
  { serverMaxWindowBits: 8, clientMaxWindowBits: 8, serverNoContextTakeover: true, clientNoContextTakeover: true },
];

// The page's side of the exchange, as plain JavaScript source (the test runner's transpiler would otherwise insert
// helpers the page does not have).
const PAGE_EXCHANGE = `async (url) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('error before open'));
  });
  const queue = [];
  let wake = null;
  ws.onmessage = (e) => {
    queue.push(e.data);
    if (wake) wake();
  };
  async function next() {
    while (queue.length === 0) await new Promise((resolve) => (wake = resolve));
    return queue.shift();
  }
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"room":"lobby"}', 'hayate', 'deflate'];
  function text(round, size) {
    let out = '#' + round + ' ';
    let x = round * 7919 + size;
    while (out.length < size) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      out += words[x % words.length] + ' ';
    }
    return out.slice(0, size);
  }
  const mismatches = [];
  for (let round = 0; round < 3; round++) {
    const whole = text(round, 1500 + round * 700);
    ws.send(whole);
    if ((await next()) !== whole) mismatches.push('whole ' + round);
    const fragmented = 'frag:' + text(round + 50, 3000);
    ws.send(fragmented);
    if ((await next()) !== fragmented) mismatches.push('fragmented ' + round);
    const bytes = new Uint8Array(2000).map((_, i) => (i * 31 + round) % 7);
    ws.send(bytes);
    const back = new Uint8Array(await next());
    if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i])) mismatches.push('binary ' + round);
  }
  ws.send('wire?');
  const before = JSON.parse(await next());
  const big = 'compressible '.repeat(16000);
  ws.send(big);
  if ((await next()) !== big) mismatches.push('big');
  ws.send('wire?');
  const after = JSON.parse(await next());
  const extensions = ws.extensions;
  ws.close(1000);
  await new Promise((resolve) => (ws.onclose = resolve));
  return { mismatches, extensions, read: after.read - before.read, written: after.written - before.written };
}`;

test('Chromium negotiates permessage-deflate and exchanges compressed messages with our server for every server parameter', async (t) => {
  const browser = await launchChromium(t);
  if (browser === null) return;
  t.after(() => browser.close());
  const page = await browser.newPage();
  await t.test('Chromium offers "permessage-deflate; client_max_window_bits" and accepts our default answer', async (st) => {
    const { wss, url } = await startServer(st, { perMessageDeflate: true });
    const offered = new Promise<string>((resolve) => {
      wss.on('connection', (_conn: Connection, req: IncomingMessage) => resolve(String(req.headers['sec-websocket-extensions'])));
    });
    const extensions = await page.evaluate(
      `new Promise((resolve) => { const ws = new WebSocket(${JSON.stringify(url)}); ws.onopen = () => { resolve(ws.extensions); ws.close(); }; })`,
    );
    assert.equal(await offered, 'permessage-deflate; client_max_window_bits');
    assert.equal(extensions, 'permessage-deflate');
  });
  for (const options of OPTION_SETS) {
    await t.test(JSON.stringify(options), async (st) => {
      const { wss, url } = await startServer(st, { perMessageDeflate: { threshold: 0, ...options } });
      const seen = { offered: '' };
      wss.on('connection', (conn: Connection, req: IncomingMessage) => {
        seen.offered = String(req.headers['sec-websocket-extensions'] ?? '');
        conn.on('message', (data: Buffer, isBinary: boolean) => {
          const text = data.toString();
          if (!isBinary && text.startsWith('frag:')) {
            const third = Math.ceil(text.length / 3);
            conn.send(text.slice(0, third), { fin: false });
            conn.send(text.slice(third, 2 * third), { fin: false });
            conn.send(text.slice(2 * third), { fin: true });
          } else if (!isBinary && text === 'wire?') {
            conn.send(JSON.stringify({ read: req.socket.bytesRead, written: req.socket.bytesWritten }));
          } else {
            conn.send(data, { binary: isBinary });
          }
        });
      });
      const result = (await page.evaluate(`(${PAGE_EXCHANGE})(${JSON.stringify(url)})`)) as {
        mismatches: string[];
        extensions: string;
        read: number;
        written: number;
      };
      assert.match(seen.offered, /^permessage-deflate/, 'Chromium offered permessage-deflate');
      assert.deepEqual(result.mismatches, []);
      assert.match(result.extensions, /^permessage-deflate/);
      if (options.serverNoContextTakeover === true) assert.match(result.extensions, /server_no_context_takeover/);
      if (options.clientNoContextTakeover === true) assert.match(result.extensions, /client_no_context_takeover/);
      if (options.serverMaxWindowBits !== undefined) assert.match(result.extensions, new RegExp(`server_max_window_bits=${options.serverMaxWindowBits}\\b`));
      if (typeof options.clientMaxWindowBits === 'number') assert.match(result.extensions, new RegExp(`client_max_window_bits=${options.clientMaxWindowBits}\\b`));
      // 208,000 characters each way, plus the small "wire?" exchange: compressed to a few KB.
      assert.ok(result.read < 20_000, `server read ${result.read} bytes`);
      assert.ok(result.written < 20_000, `server wrote ${result.written} bytes`);
    });
  }
});

