// Our WHATWG WebSocket client and connect() against the `ws` package's server (a real peer over real sockets).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Blob } from 'node:buffer';
import type { WebSocketServer as WsServer, ServerOptions, WebSocket as WsSocket } from 'ws';
import { WebSocket, type CloseEvent, type ErrorEvent } from '../../src/node/websocket.js';
import { connect } from '../../src/node/connect.js';
import { HandshakeError } from '../../src/protocol/index.js';

async function wsServer(t: TestContext, options: ServerOptions = {}): Promise<{ wss: WsServer; url: string }> {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await once(wss, 'listening');
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

function echo(wss: WsServer): void {
  wss.on('connection', (socket: WsSocket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
}

function next<E extends Event = Event>(target: EventTarget, type: string): Promise<E> {
  return new Promise((resolve) => target.addEventListener(type, (event) => resolve(event as E), { once: true }));
}

async function open(t: TestContext, url: string, protocols?: string | string[], options = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.close();
  });
  const event = await Promise.race([next(ws, 'open'), next(ws, 'close')]);
  assert.equal(event.type, 'open', 'the connection should open');
  return ws;
}

test('echoes a text message and reports readyState OPEN with an empty protocol', async (t) => {
  const { wss, url } = await wsServer(t);
  echo(wss);
  const ws = await open(t, url);
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.equal(ws.protocol, '');
  assert.equal(ws.url, `${url}/`);
  ws.send('héllo wörld');
  const message = await next<MessageEvent>(ws, 'message');
  assert.equal(message.data, 'héllo wörld');
  assert.equal(message.origin, new URL(url).origin);
});

test('delivers binary messages as Blob by default and as ArrayBuffer when binaryType is arraybuffer', async (t) => {
  const { wss, url } = await wsServer(t);
  echo(wss);
  const ws = await open(t, url);
  assert.equal(ws.binaryType, 'blob');
  ws.send(new Uint8Array([1, 2, 3]));
  const first = await next<MessageEvent>(ws, 'message');
  assert.ok(first.data instanceof Blob);
  assert.deepEqual(new Uint8Array(await (first.data as Blob).arrayBuffer()), new Uint8Array([1, 2, 3]));
  ws.binaryType = 'arraybuffer';
  ws.send(new Uint8Array([4, 5, 6, 7]).buffer);
  const second = await next<MessageEvent>(ws, 'message');
  assert.ok(second.data instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(second.data as ArrayBuffer), new Uint8Array([4, 5, 6, 7]));
});

test('sends a Blob as binary and keeps messages sent after it in order', async (t) => {
  const { wss, url } = await wsServer(t);
  const received: string[] = [];
  const done = new Promise<void>((resolve) => {
    wss.on('connection', (socket: WsSocket) =>
      socket.on('message', (data, isBinary) => {
        received.push(`${isBinary ? 'b' : 't'}:${data.toString()}`);
        if (received.length === 3) resolve();
      }),
    );
  });
  const ws = await open(t, url);
  ws.send(new Blob(['from a blob']));
  assert.equal(ws.bufferedAmount >= 11, true, 'the Blob counts in bufferedAmount while it is read');
  ws.send('after');
  ws.send(new Uint8Array([0x41]));
  await done;
  assert.deepEqual(received, ['b:from a blob', 't:after', 'b:A']);
});

for (const size of [0, 125, 126, 65535, 65536, 16 * 1024 * 1024]) {
  test(`echoes a ${size}-byte binary message and a ${size}-byte text message intact`, async (t) => {
    const { wss, url } = await wsServer(t);
    echo(wss);
    const ws = await open(t, url);
    ws.binaryType = 'arraybuffer';
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) bytes[i] = i & 0xff;
    ws.send(bytes);
    const binary = await next<MessageEvent>(ws, 'message');
    assert.equal((binary.data as ArrayBuffer).byteLength, size);
    assert.ok(Buffer.from(binary.data as ArrayBuffer).equals(bytes));
    const text = 'x'.repeat(size);
    ws.send(text);
    const echoed = await next<MessageEvent>(ws, 'message');
    assert.equal(echoed.data, text);
  });
}

test('the server selects one of the offered subprotocols and protocol reports it', async (t) => {
  const { url } = await wsServer(t, { handleProtocols: (protocols) => (protocols.has('superchat') ? 'superchat' : false) });
  const ws = await open(t, url, ['chat', 'superchat']);
  assert.equal(ws.protocol, 'superchat');
});

test('a single protocol string is offered as a one-element list', async (t) => {
  const offered: string[] = [];
  const { wss, url } = await wsServer(t);
  wss.on('connection', (_socket: WsSocket, request) => offered.push(String(request.headers['sec-websocket-protocol'])));
  const ws = await open(t, url, 'chat');
  assert.equal(ws.protocol, 'chat');
  assert.deepEqual(offered, ['chat']);
});

for (const status of [401, 403]) {
  test(`a server rejecting the upgrade with ${status} gives error then close 1006, with the status on the error`, async (t) => {
    const { url } = await wsServer(t, {
      verifyClient: (_info, cb) => cb(false, status, 'nope'),
    });
    const ws = new WebSocket(url);
    const order: string[] = [];
    ws.onerror = () => order.push('error');
    const errorEvent = next<ErrorEvent>(ws, 'error');
    const closeEvent = next<CloseEvent>(ws, 'close');
    ws.onclose = () => order.push('close');
    const error = await errorEvent;
    const close = await closeEvent;
    assert.deepEqual(order, ['error', 'close']);
    assert.ok(error.error instanceof HandshakeError);
    assert.equal((error.error as HandshakeError).status, status);
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });
}

test('connect() rejects with a HandshakeError carrying the status when the server answers 401', async (t) => {
  const { url } = await wsServer(t, { verifyClient: (_info, cb) => cb(false, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' }) });
  const error = await connect(url).then(
    () => assert.fail('connect should reject'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.status, 401);
  assert.equal(error.headers?.['www-authenticate'], 'Bearer');
});

test('a close from the client with code and reason reaches the server, and both sides see a clean close', async (t) => {
  const { wss, url } = await wsServer(t);
  const serverClose = new Promise<[number, string]>((resolve) =>
    wss.on('connection', (socket: WsSocket) => socket.on('close', (code, reason) => resolve([code, reason.toString()]))),
  );
  const ws = await open(t, url);
  ws.close(4001, 'client says bye');
  assert.equal(ws.readyState, WebSocket.CLOSING);
  const close = await next<CloseEvent>(ws, 'close');
  assert.deepEqual(await serverClose, [4001, 'client says bye']);
  assert.equal(close.code, 4001);
  assert.equal(close.reason, 'client says bye');
  assert.equal(close.wasClean, true);
  assert.equal(ws.readyState, WebSocket.CLOSED);
});

test('a close from the server with code and reason gives a clean close event with them', async (t) => {
  const { wss, url } = await wsServer(t);
  wss.on('connection', (socket: WsSocket) => socket.close(4321, 'server says bye'));
  const ws = new WebSocket(url);
  const close = await next<CloseEvent>(ws, 'close');
  assert.equal(close.code, 4321);
  assert.equal(close.reason, 'server says bye');
  assert.equal(close.wasClean, true);
});

test('a close without code reaches the server as 1005 and the client reports 1005', async (t) => {
  const { wss, url } = await wsServer(t);
  const serverClose = new Promise<number>((resolve) =>
    wss.on('connection', (socket: WsSocket) => socket.on('close', (code) => resolve(code))),
  );
  const ws = await open(t, url);
  ws.close();
  const close = await next<CloseEvent>(ws, 'close');
  assert.equal(await serverClose, 1005);
  assert.equal(close.code, 1005);
  assert.equal(close.wasClean, true);
});

test('a server that drops TCP without a close frame gives close 1006 with wasClean false', async (t) => {
  const { wss, url } = await wsServer(t);
  wss.on('connection', (socket: WsSocket) => socket.terminate());
  const ws = new WebSocket(url);
  const close = await next<CloseEvent>(ws, 'close');
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
});

test('messages arriving after the client called close() are not dispatched', async (t) => {
  const { wss, url } = await wsServer(t);
  wss.on('connection', (socket: WsSocket) => socket.on('message', () => socket.send('late')));
  const ws = await open(t, url);
  let messages = 0;
  ws.onmessage = () => messages++;
  ws.send('trigger');
  ws.close(1000);
  await next(ws, 'close');
  assert.equal(messages, 0);
});

test('send after close does not transmit but increases bufferedAmount', async (t) => {
  const { wss, url } = await wsServer(t);
  let received = 0;
  wss.on('connection', (socket: WsSocket) => socket.on('message', () => received++));
  const ws = await open(t, url);
  ws.close();
  ws.send('12345');
  ws.send(new Uint8Array(10));
  assert.equal(ws.bufferedAmount, 15);
  await next(ws, 'close');
  assert.equal(received, 0);
  assert.equal(ws.bufferedAmount, 15);
});

test('bufferedAmount counts sent payload bytes and falls back to 0 once written', async (t) => {
  const { wss, url } = await wsServer(t);
  echo(wss);
  const ws = await open(t, url);
  ws.send('abc');
  assert.equal(ws.bufferedAmount, 3);
  await next(ws, 'message');
  assert.equal(ws.bufferedAmount, 0);
});

test('negotiates permessage-deflate with ws and round-trips compressible messages', async (t) => {
  const { wss, url } = await wsServer(t, { perMessageDeflate: { threshold: 0 } });
  echo(wss);
  const ws = await open(t, url);
  assert.match(ws.extensions, /^permessage-deflate/);
  const text = 'compress me '.repeat(10_000);
  ws.send(text);
  assert.equal((await next<MessageEvent>(ws, 'message')).data, text);
  ws.send('small');
  assert.equal((await next<MessageEvent>(ws, 'message')).data, 'small');
});

test('perMessageDeflate: false offers no extension', async (t) => {
  const offers: (string | undefined)[] = [];
  const { wss, url } = await wsServer(t, { perMessageDeflate: true });
  wss.on('connection', (_socket: WsSocket, request) => offers.push(request.headers['sec-websocket-extensions']));
  const ws = await open(t, url, [], { perMessageDeflate: false });
  assert.equal(ws.extensions, '');
  assert.deepEqual(offers, [undefined]);
});

test('custom headers and origin reach the server', async (t) => {
  const seen: Record<string, unknown>[] = [];
  const { wss, url } = await wsServer(t);
  wss.on('connection', (_socket: WsSocket, request) => seen.push({ auth: request.headers.authorization, origin: request.headers.origin }));
  await open(t, url, [], { headers: { Authorization: 'Bearer token' }, origin: 'https://app.example' });
  assert.deepEqual(seen, [{ auth: 'Bearer token', origin: 'https://app.example' }]);
});

test('maxPayload fails the connection with 1009 sent to the server and error + close 1006 locally', async (t) => {
  const { wss, url } = await wsServer(t);
  const serverClose = new Promise<number>((resolve) =>
    wss.on('connection', (socket: WsSocket) => {
      socket.on('close', (code) => resolve(code));
      socket.send(Buffer.alloc(2048));
    }),
  );
  const ws = new WebSocket(url, [], { maxPayload: 1024 });
  const error = next<ErrorEvent>(ws, 'error');
  const close = await next<CloseEvent>(ws, 'close');
  await error;
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.equal(await serverClose, 1009);
});

test('connect() returns a ws-like Connection that echoes, pings and closes', async (t) => {
  const { wss, url } = await wsServer(t, { handleProtocols: () => 'chat' });
  echo(wss);
  const connection = await connect(url, { protocols: ['chat'] });
  assert.equal(connection.protocol, 'chat');
  connection.send('ping me');
  const [data, isBinary] = (await once(connection, 'message')) as [Buffer, boolean];
  assert.equal(data.toString(), 'ping me');
  assert.equal(isBinary, false);
  connection.ping(Buffer.from('p'));
  const [pong] = (await once(connection, 'pong')) as [Buffer];
  assert.equal(pong.toString(), 'p');
  connection.close(1000, 'done');
  const [code, reason] = (await once(connection, 'close')) as [number, Buffer];
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'done');
});

test('close() right after sending a Blob sends the Blob and the messages behind it first, then the Close frame', async (t) => {
  const { wss, url } = await wsServer(t);
  const seen: string[] = [];
  const closed = new Promise<void>((resolve) =>
    wss.on('connection', (socket: WsSocket) => {
      socket.on('message', (data, isBinary) => seen.push(`${isBinary ? 'b' : 't'}:${data.toString()}`));
      socket.on('close', (code, reason) => {
        seen.push(`close:${code}:${reason.toString()}`);
        resolve();
      });
    }),
  );
  const ws = await open(t, url);
  const clientClose = next<CloseEvent>(ws, 'close');
  ws.send(new Blob(['blob']));
  ws.send('text');
  ws.close(1000, 'done');
  assert.equal(ws.readyState, WebSocket.CLOSING);
  ws.send('dropped');
  await closed;
  assert.deepEqual(seen, ['b:blob', 't:text', 'close:1000:done']);
  const close = await clientClose;
  assert.equal(close.wasClean, true);
});
