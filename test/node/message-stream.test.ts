// Connection.createMessageStream: one message sent as fragments from a Writable, with backpressure (memory bounded by
// the stream, not the message), a FIN frame on end(), held sends, and clean errors when the connection goes away.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer, type WebSocket } from 'ws';
import { InvalidStateError } from '../../src/protocol/index.js';
import { connect, type Connection } from '../../src/node/index.js';
import { clientFrame, closeCodeOf, openWs, parseServerFrames, rawWebSocket, startServer, wsClose } from './server-fixtures.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** A Readable of `chunks` 64 KiB chunks with a position-dependent pattern; counts and hashes what it produced. */
function patternSource(chunks: number): { readable: Readable; produced: () => number; digest: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  let i = 0;
  const readable = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (i === chunks) {
        this.push(null);
        return;
      }
      const chunk = Buffer.alloc(CHUNK, i & 0xff);
      chunk.writeUInt32BE(i, 0);
      i++;
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { readable, produced: () => produced, digest: () => hash.copy().digest('hex') };
}

async function serverAndWs(t: Parameters<typeof startServer>[0]): Promise<{ conn: Connection; ws: WebSocket }> {
  const { wss, url } = await startServer(t);
  const connP = once(wss, 'connection') as Promise<[Connection]>;
  const ws = await openWs(t, url);
  const [conn] = await connP;
  return { conn, ws };
}

test('a 64 MiB Readable piped into a message stream arrives at the ws client as one message of the same hash', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  const source = patternSource(1024);
  const received = once(ws, 'message') as Promise<[Buffer, boolean]>;
  await pipeline(source.readable, conn.createMessageStream({ binary: true }));
  const [data, isBinary] = await received;
  assert.equal(isBinary, true);
  assert.equal(data.length, 64 * MiB);
  assert.equal(createHash('sha256').update(data).digest('hex'), source.digest());
});

test('a message stream to a reader that stopped reading holds a bounded amount, then finishes once it reads', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  ws.pause();
  const source = patternSource(1024);
  let maxBuffered = 0;
  const stream = conn.createMessageStream();
  const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, conn.bufferedAmount)), 5);
  t.after(() => clearInterval(sampler));
  const done = pipeline(source.readable, stream);
  // Wait until the producer stalls: what it produced stops changing while the reader is paused.
  let last = -1;
  for (let i = 0; i < 200 && source.produced() !== last; i++) {
    last = source.produced();
    await new Promise((r) => setTimeout(r, 50));
  }
  const producedWhilePaused = source.produced();
  assert.ok(producedWhilePaused < 64 * MiB, 'the producer stalled before the end of the message');
  // Kernel socket buffers (both ends of loopback) plus the stream's highWaterMark and one chunk: far below 64 MiB.
  assert.ok(producedWhilePaused < 24 * MiB, `produced ${producedWhilePaused} bytes while the reader was paused`);
  maxBuffered = Math.max(maxBuffered, conn.bufferedAmount);
  assert.ok(maxBuffered <= 2 * CHUNK + 64 * 1024, `bufferedAmount reached ${maxBuffered}`);
  const received = once(ws, 'message') as Promise<[Buffer, boolean]>;
  ws.resume();
  await done;
  const [data] = await received;
  assert.equal(data.length, 64 * MiB);
  assert.equal(createHash('sha256').update(data).digest('hex'), source.digest());
  assert.ok(maxBuffered <= 2 * CHUNK + 64 * 1024, `bufferedAmount reached ${maxBuffered}`);
});

test('each written chunk is one frame, end() sends an empty FIN continuation, and text streams are text', async (t) => {
  const { wss, port } = await startServer(t);
  const connP = once(wss, 'connection') as Promise<[Connection]>;
  const raw = await rawWebSocket(t, port);
  const [conn] = await connP;
  const stream = conn.createMessageStream({ binary: false });
  // "é" (0xc3 0xa9) split across two fragments: valid for the message as a whole.
  stream.write(Buffer.from([0x61, 0xc3]));
  stream.write(Buffer.from([0xa9, 0x62]));
  stream.end();
  await once(stream, 'finish');
  const bytes = await raw.waitFor(4 + 4 + 2);
  const frames = parseServerFrames(bytes);
  assert.deepEqual(
    frames.map((f) => [f.fin, f.opcode, [...f.payload]]),
    [
      [false, 0x1, [0x61, 0xc3]],
      [false, 0x0, [0xa9, 0x62]],
      [true, 0x0, []],
    ],
  );
});

test('messages sent while a stream is open go out after its final frame, in order', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  const messages: string[] = [];
  const two = new Promise<void>((resolve) =>
    ws.on('message', (data: Buffer) => {
      messages.push(data.toString());
      if (messages.length === 3) resolve();
    }),
  );
  const stream = conn.createMessageStream({ binary: false });
  stream.write('stream-');
  conn.send('first held');
  stream.write('message');
  conn.send('second held');
  stream.end();
  await two;
  assert.deepEqual(messages, ['stream-message', 'first held', 'second held']);
});

test('the stream errors with InvalidStateError when the connection closes before the message is sent', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  const stream = conn.createMessageStream();
  stream.write(Buffer.alloc(1000));
  const errored = once(stream, 'error') as Promise<[Error]>;
  ws.terminate();
  const [err] = await errored;
  assert.ok(err instanceof InvalidStateError);
  assert.equal(conn.readyState, conn.CLOSED);
});

test('destroying a stream before end() closes the connection with 1011 and fails the held sends', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  const closed = wsClose(ws);
  const stream = conn.createMessageStream();
  stream.write(Buffer.alloc(10));
  const sent = new Promise<Error | undefined>((resolve) => conn.send('held', (err) => resolve(err)));
  stream.destroy();
  assert.equal((await closed).code, 1011);
  assert.ok((await sent) instanceof Error);
});

test('createMessageStream throws while a fin:false message or another stream is in progress, or when not open', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  conn.send(Buffer.from('a'), { fin: false });
  assert.throws(() => conn.createMessageStream(), InvalidStateError);
  conn.send(Buffer.from('b'), { fin: true });
  const stream = conn.createMessageStream();
  assert.throws(() => conn.createMessageStream(), InvalidStateError);
  stream.end();
  await once(stream, 'finish');
  const closed = wsClose(ws);
  conn.close(1000);
  assert.throws(() => conn.createMessageStream(), InvalidStateError);
  await closed;
});

test('a message handler for a message that arrived in the same read as the peer\'s Close sees OPEN, then CLOSING', async (t) => {
  const { wss, port } = await startServer(t);
  const connP = once(wss, 'connection') as Promise<[Connection]>;
  const raw = await rawWebSocket(t, port);
  const [conn] = await connP;
  const states: number[] = [];
  const sendErrors: (Error | undefined)[] = [];
  conn.on('message', () => {
    states.push(conn.readyState);
    // The Close is already answered: a send here is refused through its callback, never thrown or half-sent.
    conn.send('late', (err) => sendErrors.push(err));
  });
  const closed = once(conn, 'close');
  const close = Buffer.alloc(2);
  close.writeUInt16BE(1000, 0);
  raw.socket.write(Buffer.concat([clientFrame({ opcode: 0x1, payload: 'one' }), clientFrame({ opcode: 0x1, payload: 'two' }), clientFrame({ opcode: 0x8, payload: close })]));
  await closed;
  assert.deepEqual(states, [conn.OPEN, conn.OPEN]);
  assert.equal(sendErrors.length, 2);
  assert.ok(sendErrors.every((e) => e instanceof Error));
  assert.equal(closeCodeOf(raw.received()), 1000);
});

test('a message stream on a permessage-deflate connection compresses every fragment and the ws client inflates it', async (t) => {
  const { wss, url } = await startServer(t, { perMessageDeflate: true });
  const connP = once(wss, 'connection') as Promise<[Connection]>;
  const ws = await openWs(t, url, undefined, { perMessageDeflate: true });
  const [conn] = await connP;
  assert.match(conn.extensions, /permessage-deflate/);
  const received = once(ws, 'message') as Promise<[Buffer, boolean]>;
  const parts = Array.from({ length: 50 }, (_, i) => `{"part":${i},"text":"${'compressible '.repeat(50)}"}`);
  await pipeline(Readable.from(parts), conn.createMessageStream({ binary: false }));
  const [data, isBinary] = await received;
  assert.equal(isBinary, false);
  assert.equal(data.toString(), parts.join(''));
});

test('a client Connection (connect()) streams a masked fragmented message that a ws server reassembles', async (t) => {
  const server = new WsServer({ port: 0, host: '127.0.0.1' });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await once(server, 'listening');
  const message = new Promise<[Buffer, boolean]>((resolve) =>
    server.on('connection', (peer: WebSocket) => peer.on('message', (data: Buffer, isBinary: boolean) => resolve([data, isBinary]))),
  );
  const client = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.after(() => client.terminate());
  const source = patternSource(32);
  await pipeline(source.readable, client.createMessageStream());
  const [data, isBinary] = await message;
  assert.equal(isBinary, true);
  assert.equal(data.length, 32 * CHUNK);
  assert.equal(createHash('sha256').update(data).digest('hex'), source.digest());
  for (const peer of server.clients) peer.terminate();
});

test('ending a message stream without writing sends one empty message', async (t) => {
  const { conn, ws } = await serverAndWs(t);
  const received = once(ws, 'message') as Promise<[Buffer, boolean]>;
  conn.createMessageStream().end();
  const [data, isBinary] = await received;
  assert.deepEqual([data.length, isBinary], [0, true]);
});
