// The WHATWG WebSocket interface of the Node client: constructor checks, constants, attributes, event handler
// attributes, send/close argument rules (https://websockets.spec.whatwg.org/). No handshake needs to complete here:
// a local server that accepts TCP and never answers keeps each socket CONNECTING until the test closes it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { WebSocket, CloseEvent, ErrorEvent } from '../../src/node/websocket.js';

async function silentServer(t: TestContext): Promise<string> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Makes a WebSocket to the silent server and closes it when the test ends. */
function make(t: TestContext, url: string, protocols?: string | string[]): WebSocket {
  const ws = new WebSocket(url, protocols);
  t.after(async () => {
    if (ws.readyState === WebSocket.CLOSED) return;
    const closed = once(ws, 'close');
    ws.close();
    await closed;
  });
  return ws;
}

function syntaxError(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof DOMException && err.name === 'SyntaxError');
}

test('readyState constants are on the class and on instances', async (t) => {
  const ws = make(t, await silentServer(t));
  assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
  assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
  assert.equal(ws.readyState, WebSocket.CONNECTING);
  assert.equal(ws.bufferedAmount, 0);
  assert.equal(ws.protocol, '');
  assert.equal(ws.extensions, '');
  assert.ok(ws instanceof EventTarget);
});

test('http: and https: URLs are mapped to ws: and wss:', async (t) => {
  const url = await silentServer(t);
  const ws = make(t, url.replace('ws:', 'http:') + '/path?q=1');
  assert.equal(ws.url, `${url}/path?q=1`);
  const secure = new WebSocket('https://127.0.0.1:1/x');
  assert.equal(secure.url, 'wss://127.0.0.1:1/x');
  secure.close();
  await once(secure, 'close');
});

const badUrls = ['not a url', 'ftp://example.com/', 'file:///etc/passwd', 'ws://example.com/#frag', 'ws://example.com/#', 'javascript:alert(1)'];
for (const url of badUrls) {
  test(`the constructor throws a SyntaxError DOMException for ${JSON.stringify(url)}`, () => {
    syntaxError(() => new WebSocket(url));
  });
}

const badProtocols: (string | string[])[] = [['chat', 'chat'], ['a b'], [''], 'x,y', ['ok', 'bad"quote'], ['é']];
for (const protocols of badProtocols) {
  test(`the constructor throws a SyntaxError DOMException for protocols ${JSON.stringify(protocols)}`, async (t) => {
    const url = await silentServer(t);
    syntaxError(() => new WebSocket(url, protocols));
  });
}

test('send() while CONNECTING throws an InvalidStateError DOMException', async (t) => {
  const ws = make(t, await silentServer(t));
  assert.throws(
    () => ws.send('too early'),
    (err: unknown) => err instanceof DOMException && err.name === 'InvalidStateError',
  );
});

for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535]) {
  test(`close(${code}) throws an InvalidAccessError DOMException`, async (t) => {
    const ws = make(t, await silentServer(t));
    assert.throws(
      () => ws.close(code),
      (err: unknown) => err instanceof DOMException && err.name === 'InvalidAccessError',
    );
    assert.equal(ws.readyState, WebSocket.CONNECTING, 'a rejected close changes nothing');
  });
}

test('close() accepts 1000, 3000 and 4999 and clamps fractional codes', async (t) => {
  const url = await silentServer(t);
  for (const code of [1000, 3000, 4999, 999.9, 4999.4]) {
    const ws = new WebSocket(url);
    ws.close(code);
    assert.equal(ws.readyState, WebSocket.CLOSING);
    await once(ws, 'close');
  }
});

test('close() with a reason over 123 UTF-8 bytes throws a SyntaxError DOMException; 123 bytes are fine', async (t) => {
  const url = await silentServer(t);
  const ws = make(t, url);
  syntaxError(() => ws.close(1000, 'x'.repeat(124)));
  syntaxError(() => ws.close(1000, 'é'.repeat(62)));
  ws.close(1000, 'é'.repeat(61) + 'x');
  assert.equal(ws.readyState, WebSocket.CLOSING);
});

test('binaryType accepts blob and arraybuffer and ignores other values', async (t) => {
  const ws = make(t, await silentServer(t));
  assert.equal(ws.binaryType, 'blob');
  ws.binaryType = 'arraybuffer';
  assert.equal(ws.binaryType, 'arraybuffer');
  (ws as { binaryType: string }).binaryType = 'nodebuffer';
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.binaryType = 'blob';
  assert.equal(ws.binaryType, 'blob');
});

test('event handler attributes: replacing keeps the listener position, null removes it, non-functions read as null', async (t) => {
  const ws = make(t, await silentServer(t));
  const calls: string[] = [];
  ws.onmessage = () => calls.push('first handler');
  ws.addEventListener('message', () => calls.push('listener'));
  ws.onmessage = function (this: WebSocket) {
    assert.equal(this, ws);
    calls.push('second handler');
  };
  ws.dispatchEvent(new Event('message'));
  assert.deepEqual(calls, ['second handler', 'listener']);
  assert.equal(typeof ws.onmessage, 'function');
  ws.onmessage = null;
  ws.dispatchEvent(new Event('message'));
  assert.deepEqual(calls, ['second handler', 'listener', 'listener']);
  assert.equal(ws.onmessage, null);
  (ws as unknown as { onopen: unknown }).onopen = 'not a function';
  assert.equal(ws.onopen, null);
});

test('removeEventListener stops a listener added with addEventListener', async (t) => {
  const ws = make(t, await silentServer(t));
  let calls = 0;
  const listener = (): void => {
    calls++;
  };
  ws.addEventListener('open', listener);
  ws.removeEventListener('open', listener);
  ws.dispatchEvent(new Event('open'));
  assert.equal(calls, 0);
});

test('CloseEvent and ErrorEvent carry their init fields and default them', () => {
  const close = new CloseEvent('close', { wasClean: true, code: 4000, reason: 'bye' });
  assert.deepEqual([close.type, close.wasClean, close.code, close.reason], ['close', true, 4000, 'bye']);
  const empty = new CloseEvent('close');
  assert.deepEqual([empty.wasClean, empty.code, empty.reason], [false, 0, '']);
  assert.ok(close instanceof Event);
  const cause = new Error('boom');
  const error = new ErrorEvent('error', { message: 'failed', error: cause });
  assert.deepEqual([error.type, error.message, error.error, error.filename, error.lineno, error.colno], ['error', 'failed', cause, '', 0, 0]);
});

test('the second argument may be an options object with protocols (undici style)', async (t) => {
  const url = await silentServer(t);
  syntaxError(() => new WebSocket(url, { protocols: ['a', 'a'] }));
  const ws = new WebSocket(url, { protocols: 'chat', handshakeTimeout: 50 });
  const close = (await once(ws, 'close')) as [CloseEvent];
  assert.equal(close[0].code, 1006);
});

test('header values with CR/LF in options throw a TypeError from the constructor', async (t) => {
  const url = await silentServer(t);
  assert.throws(() => new WebSocket(url, [], { headers: { 'X-Evil': 'a\r\nInjected: 1' } }), TypeError);
});
