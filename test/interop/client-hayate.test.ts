// Our WHATWG WebSocket client and connect() against our own WebSocketServer (both ends hayate, real sockets).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket, type CloseEvent, type ErrorEvent } from '../../src/node/websocket.js';
import { connect } from '../../src/node/connect.js';
import type { WebSocketServer } from '../../src/node/server.js';
import type { Connection } from '../../src/node/connection.js';
import { HandshakeError } from '../../src/protocol/index.js';
import { startServer as server } from '../node/server-fixtures.js';

function echo(wss: WebSocketServer): void {
  wss.on('connection', (socket: Connection) =>
    socket.on('message', (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary })),
  );
}

function next<E extends Event = Event>(target: EventTarget, type: string): Promise<E> {
  return new Promise((resolve) => target.addEventListener(type, (event) => resolve(event as E), { once: true }));
}

async function open(t: TestContext, url: string, protocols?: string[], options = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.close();
  });
  const event = await Promise.race([next(ws, 'open'), next(ws, 'close')]);
  assert.equal(event.type, 'open', 'the connection should open');
  return ws;
}

for (const deflate of [false, true]) {
  const label = deflate ? 'with permessage-deflate' : 'without compression';
  test(`echoes text and binary of 0/125/126/65535/65536 bytes and 4 MiB ${label}`, async (t) => {
    const { wss, url } = await server(t, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    echo(wss);
    const ws = await open(t, url);
    assert.equal(ws.extensions.startsWith('permessage-deflate'), deflate);
    ws.binaryType = 'arraybuffer';
    for (const size of [0, 125, 126, 65535, 65536, 4 * 1024 * 1024]) {
      const bytes = Buffer.alloc(size, size & 0xff);
      ws.send(bytes);
      const binary = await next<MessageEvent>(ws, 'message');
      assert.ok(Buffer.from(binary.data as ArrayBuffer).equals(bytes), `binary ${size}`);
      const text = 'ü'.repeat(Math.floor(size / 2));
      ws.send(text);
      assert.equal((await next<MessageEvent>(ws, 'message')).data, text, `text ${size}`);
    }
  });
}

test('the server picks a subprotocol from the client offer and both sides agree on it', async (t) => {
  const { wss, url } = await server(t, { handleProtocols: (protocols) => (protocols.has('v2') ? 'v2' : false) });
  const serverSide = new Promise<string>((resolve) => wss.on('connection', (socket: Connection) => resolve(socket.protocol)));
  const ws = await open(t, url, ['v1', 'v2']);
  assert.equal(ws.protocol, 'v2');
  assert.equal(await serverSide, 'v2');
});

test('an accept hook refusing with 401 gives error then close 1006 with the status on the error', async (t) => {
  const { url } = await server(t, { accept: () => ({ status: 401, body: 'token required' }) });
  const ws = new WebSocket(url);
  const error = next<ErrorEvent>(ws, 'error');
  const close = await next<CloseEvent>(ws, 'close');
  const err = (await error).error;
  assert.ok(err instanceof HandshakeError);
  assert.equal(err.status, 401);
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
});

test('closing handshake started by the client: code and reason reach the server, both clean', async (t) => {
  const { wss, url } = await server(t);
  const serverClose = new Promise<[number, string]>((resolve) =>
    wss.on('connection', (socket: Connection) => socket.on('close', (code: number, reason: Buffer) => resolve([code, reason.toString()]))),
  );
  const ws = await open(t, url);
  ws.close(3001, 'client done');
  const close = await next<CloseEvent>(ws, 'close');
  assert.deepEqual([close.code, close.reason, close.wasClean], [3001, 'client done', true]);
  assert.deepEqual(await serverClose, [3001, 'client done']);
});

test('closing handshake started by the server: the client sees its code and reason, clean', async (t) => {
  const { wss, url } = await server(t);
  wss.on('connection', (socket: Connection) => socket.close(4002, 'server done'));
  const ws = new WebSocket(url);
  const close = await next<CloseEvent>(ws, 'close');
  assert.deepEqual([close.code, close.reason, close.wasClean], [4002, 'server done', true]);
});

test('a server terminate gives the client close 1006, not clean', async (t) => {
  const { wss, url } = await server(t);
  wss.on('connection', (socket: Connection) => socket.terminate());
  const ws = new WebSocket(url);
  const close = await next<CloseEvent>(ws, 'close');
  assert.deepEqual([close.code, close.wasClean], [1006, false]);
});

test('connect() gives a Connection that exchanges messages and pings with our server', async (t) => {
  const { wss, url } = await server(t);
  echo(wss);
  const connection = await connect(url);
  t.after(() => connection.terminate());
  connection.send(Buffer.from([9, 8, 7]));
  const [data, isBinary] = (await once(connection, 'message')) as [Buffer, boolean];
  assert.deepEqual([...data], [9, 8, 7]);
  assert.equal(isBinary, true);
  connection.ping(Buffer.from('hb'));
  const [pong] = (await once(connection, 'pong')) as [Buffer];
  assert.equal(pong.toString(), 'hb');
  connection.close(1000);
  const [code] = (await once(connection, 'close')) as [number];
  assert.equal(code, 1000);
  assert.equal(connection.wasClean, true);
});
