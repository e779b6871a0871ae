// Raw-socket protocol violations against our server: each one must be answered with the right close code and the TCP
// connection closed by the server; handshakes that trickle or never finish are cut at the handshake timeout; nothing
// crashes the process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { WebSocketServer, type Connection, type WebSocketServerOptions } from '../../src/node/index.js';
import { clientFrame, closeCodeOf, rawConnect, rawWebSocket, startServer, upgradeRequest, type FrameSpec } from './server-fixtures.js';

const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => {
  uncaught.push(err);
};
before(() => process.on('uncaughtException', onUncaught));
after(() => {
  process.off('uncaughtException', onUncaught);
  assert.deepEqual(uncaught, [], 'no exception escaped into the event loop');
});

const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;
const CLOSE = 0x8;
const PING = 0x9;

const closePayload = (code: number, reason = ''): Buffer => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
};

const cases: { name: string; frames: FrameSpec[]; code: number }[] = [
  { name: 'an unmasked client frame', frames: [{ opcode: TEXT, payload: 'hi', unmasked: true }], code: 1002 },
  { name: 'RSV1 without a negotiated extension', frames: [{ opcode: TEXT, payload: 'hi', rsv: 4 }], code: 1002 },
  { name: 'RSV2', frames: [{ opcode: BINARY, payload: 'hi', rsv: 2 }], code: 1002 },
  { name: 'RSV3', frames: [{ opcode: BINARY, payload: 'hi', rsv: 1 }], code: 1002 },
  { name: 'an unknown data opcode (3)', frames: [{ opcode: 0x3 }], code: 1002 },
  { name: 'an unknown control opcode (0xB)', frames: [{ opcode: 0xb }], code: 1002 },
  { name: 'a fragmented ping (FIN=0)', frames: [{ opcode: PING, fin: false, payload: 'x' }], code: 1002 },
  { name: 'a ping with a 126-byte payload', frames: [{ opcode: PING, payload: Buffer.alloc(126) }], code: 1002 },
  { name: 'a continuation frame with no message in progress', frames: [{ opcode: CONT, payload: 'x' }], code: 1002 },
  {
    name: 'a new data frame inside a fragmented message',
    frames: [{ opcode: TEXT, fin: false, payload: 'a' }, { opcode: TEXT, payload: 'b' }],
    code: 1002,
  },
  { name: 'invalid UTF-8 in a text frame', frames: [{ opcode: TEXT, payload: Buffer.from([0xce, 0xba, 0xff]) }], code: 1007 },
  {
    name: 'invalid UTF-8 inside a continuation frame',
    frames: [{ opcode: TEXT, fin: false, payload: 'ok' }, { opcode: CONT, fin: false, payload: Buffer.from([0xed, 0xa0, 0x80]) }],
    code: 1007,
  },
  { name: 'a 1-byte close payload', frames: [{ opcode: CLOSE, payload: Buffer.from([0x03]) }], code: 1002 },
  { name: 'close code 1005 on the wire', frames: [{ opcode: CLOSE, payload: closePayload(1005) }], code: 1002 },
  { name: 'close code 999', frames: [{ opcode: CLOSE, payload: closePayload(999) }], code: 1002 },
  { name: 'close code 5000', frames: [{ opcode: CLOSE, payload: closePayload(5000) }], code: 1002 },
  // RFC 6455 §7.4.1: 1004 is reserved, 1005/1006/1015 "MUST NOT be set as a status code in a Close control frame";
  // §7.4.2: 1000-2999 beyond the assigned ones are reserved for the RFC and its extensions.
  ...[1004, 1006, 1015, 1016, 2999].map((code) => ({ name: `close code ${code}`, frames: [{ opcode: CLOSE, payload: closePayload(code) }], code: 1002 })),
  {
    name: 'a close reason that is not UTF-8',
    frames: [{ opcode: CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) }],
    code: 1007,
  },
  { name: 'a 64-bit length with the top bit set (2^63)', frames: [{ opcode: BINARY, length: 1n << 63n }], code: 1002 },
  { name: 'a length over maxPayload', frames: [{ opcode: BINARY, length: 2048n }], code: 1009 },
];

for (const c of cases) {
  test(`closes with ${c.code} and then closes TCP on ${c.name}`, async (t) => {
    const { wss, port } = await startServer(t, { maxPayload: 1024 });
    const serverClose = new Promise<number>((resolve) => wss.on('connection', (conn: Connection) => conn.on('close', resolve)));
    const raw = await rawWebSocket(t, port);
    raw.socket.write(Buffer.concat(c.frames.map(clientFrame)));
    await raw.ended;
    assert.equal(closeCodeOf(raw.received()), c.code);
    // No close frame was received from the peer: the server's close event reports 1006 (RFC 6455 §7.1.5).
    assert.equal(await serverClose, 1006);
  });
}

test('emits an error event with the protocol code when someone listens', async (t) => {
  const { wss, port } = await startServer(t);
  const error = new Promise<Error & { code?: unknown }>((resolve) => wss.on('connection', (conn: Connection) => conn.on('error', resolve)));
  const raw = await rawWebSocket(t, port);
  raw.socket.write(clientFrame({ opcode: 0x3 }));
  const err = await error;
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'WS_INVALID_OPCODE');
});

test('a peer announcing a 2^62-byte frame gets 1009 without the server allocating it', async (t) => {
  const { port } = await startServer(t);
  const raw = await rawWebSocket(t, port);
  const before = process.memoryUsage().arrayBuffers;
  raw.socket.write(clientFrame({ opcode: BINARY, length: 1n << 62n }).subarray(0, 14));
  raw.socket.write(Buffer.alloc(1024, 1));
  await raw.ended;
  assert.equal(closeCodeOf(raw.received()), 1009);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no payload-sized allocation');
});

test('a ping between the fragments of a message is answered and the message still arrives', async (t) => {
  const { wss, port } = await startServer(t);
  const message = new Promise<string>((resolve) => wss.on('connection', (conn: Connection) => conn.on('message', (d: Buffer) => resolve(d.toString()))));
  const raw = await rawWebSocket(t, port);
  raw.socket.write(
    Buffer.concat([
      clientFrame({ opcode: TEXT, fin: false, payload: 'frag' }),
      clientFrame({ opcode: PING, payload: 'p' }),
      clientFrame({ opcode: CONT, payload: 'ment' }),
    ]),
  );
  assert.equal(await message, 'fragment');
  const bytes = await raw.waitFor(3);
  assert.equal(bytes[0], 0x8a);
  assert.equal(bytes.subarray(2, 3).toString(), 'p');
});

test('a header sent one byte per 200 ms is cut at the handshake timeout', async (t) => {
  const { port } = await startServer(t, { handshakeTimeout: 600 });
  const socket = await rawConnect(t, port);
  const request = Buffer.from(upgradeRequest(port));
  let sent = 0;
  let closed = false;
  socket.once('close', () => (closed = true));
  socket.resume(); // read what the server answers (possibly a 408), so its end is seen and the socket closes
  while (!closed && sent < request.length) {
    socket.write(request.subarray(sent, sent + 1));
    sent++;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(closed, 'the server closed the socket');
  assert.ok(sent < request.length, `cut after ${sent} of ${request.length} bytes`);
});

test('a connection that never sends a request is cut at the handshake timeout', async (t) => {
  const { port } = await startServer(t, { handshakeTimeout: 300 });
  const socket = await rawConnect(t, port);
  // Whichever cut comes first (our deadline: no bytes; Node's own header timeout: a 408 response, then the close),
  // the socket must be read: a paused socket holding the 408 would never see the end of the stream.
  const data: Buffer[] = [];
  socket.on('data', (d: Buffer) => data.push(d));
  await once(socket, 'close');
  const answer = Buffer.concat(data).toString('latin1');
  assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408 '), `no upgrade, at most a 408: ${JSON.stringify(answer)}`);
});

/** assertStillServes checks that the server lives on: a new client gets its connection. */
async function assertStillServes(t: TestContext, wss: WebSocketServer, port: number): Promise<void> {
  const next = once(wss, 'connection');
  const raw = await rawWebSocket(t, port);
  await next;
  raw.socket.destroy();
}

/** attachedServer runs a WebSocketServer on an http.Server of the test's own (the `server` option). */
async function attachedServer(t: TestContext, options: Omit<WebSocketServerOptions, 'port' | 'server'>): Promise<{ wss: WebSocketServer; port: number }> {
  const server = createServer();
  const wss = new WebSocketServer({ heartbeatInterval: 0, ...options, server });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { wss, port: (server.address() as AddressInfo).port };
}

// Our own HTTP server arms the handshake's deadline when the socket connects; on a user's http.Server nothing does
// until the handshake waits for its hook and arms one itself.
for (const [where, start] of [
  ['on its own port', startServer],
  ["on an http.Server of the user's", attachedServer],
] as const) {
  test(`${where}, an upgrade held by a never-settling accept hook is cut at the handshake timeout`, async (t) => {
    const { wss, port } = await start(t, { handshakeTimeout: 300, accept: () => new Promise<boolean>(() => {}) });
    let connections = 0;
    wss.on('connection', () => connections++);
    const socket = await rawConnect(t, port);
    const data: Buffer[] = [];
    socket.on('data', (d: Buffer) => data.push(d));
    socket.write(upgradeRequest(port));
    const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise((r) => setTimeout(r, 5000, false))]);
    assert.equal(closed, true, 'the server closed the socket');
    assert.equal(Buffer.concat(data).length, 0, 'no 101 was sent');
    assert.equal(connections, 0);
  });
}

test('a client that resets while the accept hook is pending does not crash the server', async (t) => {
  // The socket errors (ECONNRESET) while nobody else listens on it: the handshake's own listener must take it.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let asked = 0;
  const { wss, port } = await attachedServer(t, {
    accept: async () => {
      if (asked++ === 0) await released;
      return true;
    },
  });
  const socket = await rawConnect(t, port);
  socket.write(upgradeRequest(port));
  while (asked === 0) await new Promise((r) => setTimeout(r, 5));
  socket.resetAndDestroy();
  await new Promise((r) => setTimeout(r, 50));
  release();
  await new Promise((r) => setTimeout(r, 50));
  await assertStillServes(t, wss, port);
});

test('clients that reset right after an upgrade request the server refuses do not crash it', async (t) => {
  // The refusal is written to a socket the peer has reset: its write error must be heard by someone.
  const { wss, port } = await startServer(t);
  let refused = 0;
  wss.on('rejection', () => refused++);
  for (let i = 0; i < 20; i++) {
    const socket = await rawConnect(t, port);
    socket.write(upgradeRequest(port, { 'Sec-WebSocket-Version': '12' }));
    socket.resetAndDestroy();
  }
  const deadline = Date.now() + 5000;
  while (refused < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(refused > 0, 'the server saw the requests');
  assert.deepEqual(uncaught, []);
  await assertStillServes(t, wss, port);
});

test('a socket reset in the middle of a message does not crash the server', async (t) => {
  const { wss, port } = await startServer(t);
  const closed = new Promise<number>((resolve) => wss.on('connection', (conn: Connection) => conn.on('close', resolve)));
  const raw = await rawWebSocket(t, port);
  raw.socket.write(clientFrame({ opcode: BINARY, payload: Buffer.alloc(1000) }).subarray(0, 500));
  raw.socket.resetAndDestroy();
  assert.equal(await closed, 1006);
});

test('invalid UTF-8 early in a long text frame closes with 1007 before the rest of the frame is sent', async (t) => {
  const { port } = await startServer(t);
  const raw = await rawWebSocket(t, port);
  const payload = Buffer.alloc(100_000, 0x61);
  payload[10] = 0xff; // never valid in UTF-8
  const frame = clientFrame({ opcode: TEXT, payload });
  // Header (4 bytes), key (4 bytes) and the first 20 payload bytes only: the message cannot end.
  raw.socket.write(frame.subarray(0, 8 + 20));
  await raw.ended;
  assert.equal(closeCodeOf(raw.received()), 1007);
});

test('invalid UTF-8 in the second fragment closes with 1007 while the message is still open', async (t) => {
  const { port } = await startServer(t);
  const raw = await rawWebSocket(t, port);
  raw.socket.write(clientFrame({ opcode: TEXT, fin: false, payload: Buffer.from([0x63, 0x61, 0x66, 0xc3]) }));
  // 0xc3 must be followed by a continuation byte (0x80-0xbf): 0x28 fails the character across the fragment boundary.
  raw.socket.write(clientFrame({ opcode: CONT, fin: false, payload: Buffer.from([0x28, 0x61]) }));
  await raw.ended;
  assert.equal(closeCodeOf(raw.received()), 1007);
});
