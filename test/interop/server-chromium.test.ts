// Our WebSocketServer against Chromium's WebSocket (headless Debian chromium through playwright-core): a page served
// by the same HTTP server connects, sends text and binary, gets echoes, and closes with a code and reason.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { WebSocketServer, type Connection } from '../../src/node/index.js';
import { closeServer } from '../node/server-fixtures.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>hayate interop</title>`;

async function withChromium(t: TestContext): Promise<Browser | null> {
  const browser = await launchChromium(t);
  if (browser !== null) t.after(() => browser.close());
  return browser;
}

test('Chromium against our server', async (t) => {
  const browser = await withChromium(t);
  if (browser === null) return;
  // One page for every case: opening a page is the slow part of a Chromium run.
  const page = await browser.newPage();
  await t.test('echoes text and binary and closes with 4000 "bye"', (st) => echoAndClose(st, page, {}));
  await t.test('echoes with permessage-deflate negotiated', (st) => echoAndClose(st, page, { perMessageDeflate: true }));
  await t.test('sees the server-initiated close code and reason', (st) => serverClose(st, page));
  await t.test('answers the heartbeat\'s pings and survives two rounds', (st) => heartbeat(st, page));
  await t.test('echoes text and binary of 0, 125, 126, 65535, 65536 bytes and binary of 16 MiB intact', (st) => sizes(st, page));
});

// The length-form boundaries (RFC 6455 §5.2: 7-bit up to 125, 16-bit up to 65535, 64-bit above) and a 16 MiB
// message, both directions: Chromium generates, sends, and compares the echo byte for byte in the page; the server
// checks what it received against the same pattern.
async function sizes(t: TestContext, page: Page): Promise<void> {
  const http = createServer((_req, res) => res.end(PAGE));
  const wss = new WebSocketServer({ server: http, heartbeatInterval: 0 });
  t.after(async () => {
    await closeServer(wss);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  const serverSaw: string[] = [];
  wss.on('connection', (conn: Connection) =>
    conn.on('message', (data: Buffer, isBinary: boolean) => {
      let ok = true;
      for (let i = 0; i < data.length && ok; i++) ok = data[i] === (isBinary ? (i * 31 + 7) & 0xff : 0x61 + (i % 26));
      serverSaw.push(`${isBinary ? 'binary' : 'text'}:${data.length}:${ok}`);
      conn.send(data, { binary: isBinary });
    }),
  );
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as { port: number }).port;
  await page.goto(`http://127.0.0.1:${port}/`);
  const SIZES = [0, 125, 126, 65535, 65536, 16 * 1024 * 1024];
  const results = await page.evaluate(
    async ({ url, sizes }: { url: string; sizes: number[] }) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('error before open'));
      });
      const out: string[] = [];
      for (const size of sizes) {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
        const text = size > 65536 ? '' : 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(size / 26) + 1).slice(0, size);
        // 16 MiB goes as binary only: the length form is the same, and it keeps the run short.
        const kinds = size > 65536 ? ([['binary', bytes]] as const) : ([['binary', bytes], ['text', text]] as const);
        for (const [kind, payload] of kinds) {
          const echo = new Promise<unknown>((resolve) => (ws.onmessage = (e) => resolve(e.data)));
          ws.send(payload);
          const got = await echo;
          let same: boolean;
          if (kind === 'text') same = got === text;
          else {
            const view = new Uint8Array(got as ArrayBuffer);
            same = view.length === size && view.every((b, i) => b === bytes[i]);
          }
          out.push(`${kind}:${size}:${same}`);
        }
      }
      ws.close(1000);
      return out;
    },
    { url: `ws://127.0.0.1:${port}/`, sizes: SIZES },
  );
  const expected = SIZES.flatMap((size) => (size > 65536 ? [`binary:${size}:true`] : [`binary:${size}:true`, `text:${size}:true`]));
  assert.deepEqual(results, expected, 'Chromium received every echo intact');
  assert.deepEqual(serverSaw, expected, 'the server received every message intact');
}

async function echoAndClose(t: TestContext, page: Page, options: { perMessageDeflate?: boolean }): Promise<void> {
  const http = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(PAGE);
  });
  const wss = new WebSocketServer({ server: http, path: '/ws', heartbeatInterval: 0, ...options });
  t.after(async () => {
    await closeServer(wss);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  const serverSaw: { messages: [string, boolean][]; close?: { code: number; reason: string; wasClean: boolean }; origin?: string } = { messages: [] };
  const serverClosed = new Promise<void>((resolve) => {
    wss.on('connection', (conn: Connection, req) => {
      serverSaw.origin = req.headers.origin;
      conn.on('message', (data: Buffer, isBinary: boolean) => {
        serverSaw.messages.push([isBinary ? data.toString('hex') : data.toString(), isBinary]);
        conn.send(data, { binary: isBinary });
      });
      conn.on('close', (code: number, reason: Buffer) => {
        serverSaw.close = { code, reason: reason.toString(), wasClean: conn.wasClean };
        resolve();
      });
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as { port: number }).port;
  await page.goto(`http://127.0.0.1:${port}/`);
  const result = await page.evaluate(async (url: string) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const received: [string, string][] = [];
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('error before open'));
    });
    const got = new Promise<void>((resolve) => {
      ws.onmessage = (e) => {
        received.push(typeof e.data === 'string' ? ['text', e.data] : ['binary', Array.from(new Uint8Array(e.data)).map((b) => b.toString(16).padStart(2, '0')).join('')]);
        if (received.length === 3) resolve();
      };
    });
    ws.send('héllo chromium');
    ws.send(new Uint8Array([0, 1, 2, 255]));
    ws.send('x'.repeat(70000));
    await got;
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    });
    ws.close(4000, 'bye');
    return { received, close: await closed, protocol: ws.protocol, extensions: ws.extensions };
  }, `ws://127.0.0.1:${port}/ws`);
  await serverClosed;
  assert.deepEqual(result.received.slice(0, 2), [['text', 'héllo chromium'], ['binary', '000102ff']]);
  assert.equal(result.received[2][1].length, 70000);
  assert.deepEqual(result.close, { code: 4000, reason: 'bye', wasClean: true });
  assert.deepEqual(serverSaw.messages.slice(0, 2), [['héllo chromium', false], ['000102ff', true]]);
  assert.deepEqual(serverSaw.close, { code: 4000, reason: 'bye', wasClean: true });
  assert.equal(serverSaw.origin, `http://127.0.0.1:${port}`);
  if (options.perMessageDeflate === true) assert.match(result.extensions, /^permessage-deflate/);
  else assert.equal(result.extensions, '');
}

async function serverClose(t: TestContext, page: Page): Promise<void> {
  const http = createServer((_req, res) => res.end(PAGE));
  const wss = new WebSocketServer({ server: http, heartbeatInterval: 0 });
  wss.on('connection', (conn: Connection) => conn.on('message', () => conn.close(4321, 'server says bye')));
  t.after(async () => {
    await closeServer(wss);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as { port: number }).port;
  await page.goto(`http://127.0.0.1:${port}/`);
  const close = await page.evaluate(async (url: string) => {
    const ws = new WebSocket(url, ['chat.v1']);
    await new Promise((resolve) => (ws.onopen = resolve));
    const protocol = ws.protocol;
    ws.send('close me');
    return new Promise<{ code: number; reason: string; wasClean: boolean; protocol: string }>((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean, protocol });
    });
  }, `ws://127.0.0.1:${port}/`);
  assert.deepEqual(close, { code: 4321, reason: 'server says bye', wasClean: true, protocol: 'chat.v1' });
}

async function heartbeat(t: TestContext, page: Page): Promise<void> {
  const http = createServer((_req, res) => res.end(PAGE));
  const wss = new WebSocketServer({ server: http, heartbeatInterval: 0 });
  t.after(async () => {
    await closeServer(wss);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  const connected = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as { port: number }).port;
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.evaluate(async (url: string) => {
    const ws = new WebSocket(url);
    (globalThis as unknown as { held: WebSocket }).held = ws;
    await new Promise((resolve) => (ws.onopen = resolve));
  }, `ws://127.0.0.1:${port}/`);
  const conn = await connected;
  for (let round = 0; round < 2; round++) {
    const pong = once(conn, 'pong');
    assert.equal(wss.heartbeat.runRound(), 0);
    await pong;
  }
  assert.equal(wss.heartbeat.runRound(), 0, 'a browser that answered is not terminated');
  assert.equal(conn.readyState, 1);
}
