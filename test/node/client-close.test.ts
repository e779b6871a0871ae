// The client's side of the closing handshake against a hand-written server (RFC 6455 §7.1.1: "the underlying TCP
// connection, in most normal cases, SHOULD be closed first by the server"): the client waits for the server's TCP
// close after the Close exchange, and its close timeout cuts a server that never closes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket, type CloseEvent } from '../../src/node/websocket.js';
import { acceptKey } from '../../src/protocol/index.js';

interface RawPeer {
  socket: Duplex;
  /** Resolves with the unmasked payload of the first Close frame the client sends. */
  closeFrame: Promise<Buffer>;
  /** Resolves when the client half-closes TCP (its FIN). */
  ended: Promise<void>;
}

/** A server that completes the opening handshake by hand and hands the raw socket to the test. */
async function rawServer(t: TestContext): Promise<{ url: string; peer: Promise<RawPeer> }> {
  let resolvePeer: (peer: RawPeer) => void = () => {};
  const peer = new Promise<RawPeer>((resolve) => (resolvePeer = resolve));
  const server: Server = createServer();
  const sockets: Duplex[] = [];
  server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(String(request.headers['sec-websocket-key']))}\r\n\r\n`,
    );
    const closeFrame = new Promise<Buffer>((resolve) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2 || buffered[0] !== 0x88) return;
        const length = buffered[1] & 0x7f;
        if (buffered.length < 6 + length) return;
        const mask = buffered.subarray(2, 6);
        const payload = Buffer.from(buffered.subarray(6, 6 + length));
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
        resolve(payload);
      });
    });
    const ended = once(socket, 'end').then(() => undefined);
    resolvePeer({ socket, closeFrame, ended });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, peer };
}

function closeFrame(code: number, reason = ''): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}

test('after the Close exchange the client leaves closing TCP to the server, then reports a clean close', async (t) => {
  const { url, peer } = await rawServer(t);
  const ws = new WebSocket(url);
  await once(ws, 'open');
  const { socket, closeFrame: received, ended } = await peer;
  ws.close(1000, 'bye');
  const payload = await received;
  assert.equal(payload.readUInt16BE(0), 1000);
  assert.equal(payload.subarray(2).toString(), 'bye');
  socket.write(closeFrame(1000, 'bye'));
  // The client must not close TCP first; give it ample time to do so wrongly.
  const first = await Promise.race([ended.then(() => 'client closed TCP'), delay(300).then(() => 'still open')]);
  assert.equal(first, 'still open');
  assert.equal(ws.readyState, WebSocket.CLOSING);
  const closed = once(ws, 'close') as Promise<[CloseEvent]>;
  socket.end();
  const [event] = await closed;
  assert.deepEqual([event.code, event.reason, event.wasClean], [1000, 'bye', true]);
});

test('a server Close is answered with the same code, and the close event reports the server code', async (t) => {
  const { url, peer } = await rawServer(t);
  const ws = new WebSocket(url);
  await once(ws, 'open');
  const { socket, closeFrame: received } = await peer;
  socket.write(closeFrame(4100, 'server first'));
  const payload = await received;
  assert.equal(payload.readUInt16BE(0), 4100);
  const closed = once(ws, 'close') as Promise<[CloseEvent]>;
  socket.end();
  const [event] = await closed;
  assert.deepEqual([event.code, event.reason, event.wasClean], [4100, 'server first', true]);
});

// The server sends its Close first, so the client's close timeout starts only once it answered (it holds the server's
// code by then): the timeout, not the server's answer, decides the outcome however slow the machine is.
test('the close timeout destroys the connection of a server that finishes the Close exchange but never closes TCP', async (t) => {
  const { url, peer } = await rawServer(t);
  const ws = new WebSocket(url, [], { closeTimeout: 100 });
  await once(ws, 'open');
  const { socket, closeFrame: received } = await peer;
  const closed = once(ws, 'close') as Promise<[CloseEvent]>;
  socket.write(closeFrame(3000, 'server first'));
  assert.equal((await received).readUInt16BE(0), 3000);
  // The server never ends TCP: only the client's close timeout can produce the close event.
  const [event] = await closed;
  assert.deepEqual([event.code, event.reason], [3000, 'server first']);
  assert.equal(ws.readyState, WebSocket.CLOSED);
});

test('the close timeout destroys the connection of a server that never answers Close: 1006, not clean', async (t) => {
  const { url, peer } = await rawServer(t);
  const ws = new WebSocket(url, [], { closeTimeout: 100 });
  await once(ws, 'open');
  const { closeFrame: received } = await peer;
  ws.close(3000);
  await received;
  const [event] = (await once(ws, 'close')) as [CloseEvent];
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
});
