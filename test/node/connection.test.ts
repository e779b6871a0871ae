// The transport Connection: one write per read dispatch, one write per tick for sends made outside a read,
// bufferedAmount and drain, the idle timeout, and the shared DeadlineTimer behind the close/handshake timeouts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { createConnection, createServer as createNetServer, type OnReadOpts, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { DeadlineTimer } from '../../src/node/deadline-timer.js';
import { WebSocketProtocol, sharedReadBuffer } from '../../src/protocol/index.js';
import { Connection, WebSocketServer, type WebSocketServerOptions } from '../../src/node/index.js';
import { clientFrame, closeServer, openWs, parseServerFrames, rawWebSocket } from './server-fixtures.js';

interface Counted {
  conn: Connection;
  /** The server's end of the TCP connection. */
  socket: Socket;
  /** libuv-level writes (_write or _writev calls) on the server's socket since the connection was made. */
  writes(): number;
  /** Reads of the server's socket: 'data' chunks, or calls of its `onread` callback once it reads into the shared buffer. */
  reads(): number;
}

/** onreadKey is Node's key of a socket's `onread` buffer or callback (what Connection sets for the shared read buffer). */
function onreadKey(socket: Socket, name: 'kBuffer' | 'kBufferCb'): symbol {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === name);
  assert.ok(key !== undefined, `this Node has no ${name} on its sockets`);
  return key;
}

/** A noServer WebSocketServer whose sockets count their low-level writes. */
async function countingServer(t: TestContext, options: Omit<WebSocketServerOptions, 'noServer'> = {}) {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, heartbeatInterval: 0, ...options });
  const conns: Counted[] = [];
  const waiting: ((c: Counted) => void)[] = [];
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
    let writes = -1; // the 101 response is the first write
    let reads = 0;
    const w = s._write.bind(s);
    s._write = (...a: unknown[]) => {
      writes++;
      w(...a);
    };
    if (s._writev !== undefined) {
      const wv = s._writev.bind(s);
      s._writev = (...a: unknown[]) => {
        writes++;
        wv(...a);
      };
    }
    s.on('data', () => reads++);
    wss.handleUpgrade(req, socket, head, (conn) => {
      const keyed = s as unknown as Record<symbol, (this: Socket, n: number, b: Buffer) => unknown>;
      const key = onreadKey(s, 'kBufferCb');
      const onread = keyed[key];
      if (typeof onread === 'function') {
        keyed[key] = function (n, b) {
          reads++;
          return onread.call(this, n, b);
        };
      }
      const counted = { conn, socket: s, writes: () => writes, reads: () => reads };
      conns.push(counted);
      waiting.shift()?.(counted);
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(async () => {
    await closeServer(wss);
    await new Promise((r) => http.close(r));
  });
  const port = (http.address() as { port: number }).port;
  const next = (): Promise<Counted> => new Promise((resolve) => waiting.push(resolve));
  return { wss, port, url: `ws://127.0.0.1:${port}`, next };
}

/** tcpPair connects a plain TCP client (with `options`, e.g. `onread`) to a fresh server: both ends, connected. */
async function tcpPair(t: TestContext, options: { onread?: OnReadOpts } = {}): Promise<{ accepted: Socket; client: Socket }> {
  const tcp = createNetServer();
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  t.after(() => tcp.close());
  const accepted = once(tcp, 'connection') as Promise<[Socket]>;
  const client = createConnection({ port: (tcp.address() as { port: number }).port, host: '127.0.0.1', ...options });
  t.after(() => client.destroy());
  await once(client, 'connect');
  const [socket] = await accepted;
  t.after(() => socket.destroy());
  return { accepted: socket, client };
}

test('answers every message of one read with ONE socket write', async (t) => {
  const { port, next } = await countingServer(t);
  const pending = next();
  const raw = await rawWebSocket(t, port);
  const { conn, writes, reads } = await pending;
  let got = 0;
  conn.on('message', (data: Buffer) => {
    got++;
    conn.send(data);
  });
  const frames = Array.from({ length: 16 }, (_, i) => clientFrame({ opcode: 1, payload: `message ${i.toString().padStart(24, '0')}` }));
  raw.socket.write(Buffer.concat(frames));
  const total = frames.reduce((n, f) => n + f.length - 4, 0);
  const bytes = await raw.waitFor(total);
  assert.equal(got, 16);
  assert.equal(parseServerFrames(bytes).length, 16);
  assert.ok(reads() < 16, 'precondition: the 16 frames arrived in fewer reads');
  assert.ok(writes() <= reads(), `one write per read, not one per message (${writes()} writes for ${reads()} reads)`);
});

test('a plain TCP socket is read into the one shared read buffer, and messages kept from one read survive later reads', async (t) => {
  const { port, next } = await countingServer(t);
  const pending = next();
  const raw = await rawWebSocket(t, port);
  const { conn, socket, reads } = await pending;
  assert.equal((socket as unknown as Record<symbol, unknown>)[onreadKey(socket, 'kBuffer')], sharedReadBuffer());
  const kept: Buffer[] = [];
  conn.on('message', (data: Buffer) => {
    kept.push(data);
    if (kept.length === 3 || kept.length === 203) conn.send('batch');
  });
  // Large messages (read where they lie, each copied out) and small ones (whole reads copied), with different bytes
  // in each, so a message that still pointed into the shared buffer would show the bytes of a later read.
  const expected = [
    ...[40_000, 70_000, 33].map((size, i) => Buffer.alloc(size, 0x41 + i)),
    ...Array.from({ length: 200 }, (_, i) => Buffer.from(`small message ${i} `.repeat(1 + (i % 7)))),
  ];
  const frames = expected.map((payload) => clientFrame({ opcode: 2, payload }));
  raw.socket.write(Buffer.concat(frames.slice(0, 3)));
  await raw.waitFor(7);
  raw.socket.write(Buffer.concat(frames.slice(3)));
  await raw.waitFor(14);
  assert.ok(reads() >= 2, `read through the onread callback (${reads()} reads)`);
  assert.equal(kept.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(kept[i].equals(expected[i]), `message ${i} is intact`);
});

test('a Connection made with sharedReadBuffer: false leaves the socket to its \'data\' events, which others can read too', async (t) => {
  const { accepted: socket, client } = await tcpPair(t);
  let seenByOthers = 0;
  socket.on('data', (chunk: Buffer) => (seenByOthers += chunk.length));
  const conn = new Connection(socket, { protocol: new WebSocketProtocol({ role: 'server' }), sharedReadBuffer: false });
  t.after(() => conn.terminate());
  const got = once(conn, 'message') as Promise<[Buffer, boolean]>;
  const frame = clientFrame({ opcode: 1, payload: 'through data events' });
  client.write(frame);
  const [data] = await got;
  assert.equal(data.toString(), 'through data events');
  assert.equal(seenByOthers, frame.length, 'another data listener saw the bytes too');
  assert.equal((socket as unknown as Record<symbol, unknown>)[onreadKey(socket, 'kBuffer')], null, 'not in onread mode');
});

test('a socket its owner already reads with onread keeps the owner\'s buffer and callback', async (t) => {
  const own = Buffer.alloc(4096);
  let ownerGot = '';
  const onread = {
    buffer: own,
    callback: (n: number, buf: Uint8Array) => {
      ownerGot += Buffer.from(buf.subarray(0, n)).toString();
      return true;
    },
  };
  const { accepted: peer, client: socket } = await tcpPair(t, { onread });
  const conn = new Connection(socket, { protocol: new WebSocketProtocol({ role: 'client' }) });
  t.after(() => conn.terminate());
  assert.equal((socket as unknown as Record<symbol, unknown>)[onreadKey(socket, 'kBuffer')], own, 'the owner\'s buffer stays');
  peer.write('bytes for the owner');
  while (ownerGot.length < 'bytes for the owner'.length) await new Promise((r) => setTimeout(r, 5));
  assert.equal(ownerGot, 'bytes for the owner');
});

test('pause() stops reading from a socket read into the shared buffer, and resume() delivers what waited', async (t) => {
  const { port, next } = await countingServer(t);
  const pending = next();
  const raw = await rawWebSocket(t, port);
  const { conn } = await pending;
  const got: string[] = [];
  conn.on('message', (data: Buffer) => got.push(data.toString()));
  raw.socket.write(clientFrame({ opcode: 1, payload: 'before' }));
  while (got.length < 1) await new Promise((r) => setTimeout(r, 5));
  conn.pause();
  raw.socket.write(clientFrame({ opcode: 1, payload: 'while paused' }));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(got, ['before']);
  conn.resume();
  while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, ['before', 'while paused']);
});

test('the answers to several reads of one event-loop turn leave in ONE write', async (t) => {
  const { port, next } = await countingServer(t);
  const pending = next();
  const raw = await rawWebSocket(t, port);
  const { conn, socket, writes } = await pending;
  conn.on('message', (data: Buffer) => conn.send(data));
  const before = writes();
  // libuv reads a busy socket up to 32 times (64 KiB each) in one turn, and Node emits 'data' for each: two reads of
  // the same turn, delivered the way the stream delivers them.
  socket.emit('data', clientFrame({ opcode: 1, payload: 'first read' }));
  socket.emit('data', clientFrame({ opcode: 1, payload: 'second read' }));
  const bytes = await raw.waitFor(2 + 'first read'.length + 2 + 'second read'.length);
  assert.deepEqual(parseServerFrames(bytes).map((f) => f.payload.toString()), ['first read', 'second read']);
  assert.equal(writes() - before, 1, 'one write for the turn, not one per read');
});

test('a connection\'s answers are written as soon as another socket\'s read starts, not at the end of the turn', async (t) => {
  const { port, next } = await countingServer(t);
  const pendingA = next();
  const rawA = await rawWebSocket(t, port);
  const a = await pendingA;
  const pendingB = next();
  await rawWebSocket(t, port);
  const b = await pendingB;
  a.conn.on('message', (data: Buffer) => a.conn.send(data));
  const beforeA = a.writes();
  let aWritesWhenBRead = -1;
  b.conn.on('message', () => {
    aWritesWhenBRead = a.writes() - beforeA;
  });
  // Two sockets' reads in one turn, as libuv delivers them (one socket's data, then the other's).
  a.socket.emit('data', clientFrame({ opcode: 1, payload: 'to a' }));
  b.socket.emit('data', clientFrame({ opcode: 1, payload: 'to b' }));
  assert.equal(aWritesWhenBRead, 1, 'a answered before b was read');
  const echoed = await rawA.waitFor(2 + 'to a'.length);
  assert.deepEqual(parseServerFrames(echoed).map((f) => f.payload.toString()), ['to a']);
});

test('sends made outside a read (timers) are flushed once per tick per connection', async (t) => {
  const { url, next } = await countingServer(t);
  const conns: Counted[] = [];
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const pending = next();
    clients.push(await openWs(t, url));
    conns.push(await pending);
  }
  const arrived = clients.map((ws) => new Promise<void>((resolve) => {
    let n = 0;
    ws.on('message', () => {
      if (++n === 10) resolve();
    });
  }));
  const before = conns.map((c) => c.writes());
  await new Promise<void>((resolve) => setTimeout(() => {
    for (const c of conns) for (let i = 0; i < 10; i++) c.conn.send(`tick ${i}`);
    resolve();
  }, 1));
  await Promise.all(arrived);
  assert.deepEqual(conns.map((c, i) => c.writes() - before[i]), [1, 1, 1]);
});

test('bufferedAmount grows while the peer does not read, and drain fires once it is flushed', async (t) => {
  const { port, next } = await countingServer(t);
  const pending = next();
  const raw = await rawWebSocket(t, port);
  raw.socket.pause();
  const { conn } = await pending;
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 16; i++) conn.send(chunk);
  assert.ok(conn.bufferedAmount >= 16 * chunk.length, 'queued bytes are counted before the flush');
  await new Promise((r) => setImmediate(r));
  assert.ok(conn.bufferedAmount > 0, 'the socket holds what the paused peer did not take');
  const drained = once(conn, 'drain');
  raw.socket.resume();
  await drained;
  assert.equal(conn.bufferedAmount, 0);
});

test('idleTimeout closes a silent connection with 1001', async (t) => {
  const { port, next } = await countingServer(t, { idleTimeout: 150 });
  const pending = next();
  const raw = await rawWebSocket(t, port);
  await pending;
  const bytes = await raw.waitFor(4);
  const close = parseServerFrames(bytes).find((f) => f.opcode === 8);
  assert.ok(close !== undefined);
  assert.equal(close.payload.readUInt16BE(0), 1001);
});

test('an abrupt peer reset never throws out of the event loop and reports 1006', async (t) => {
  const { url, next } = await countingServer(t);
  const pending = next();
  const ws = await openWs(t, url);
  const { conn } = await pending;
  const closed = once(conn, 'close');
  (ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
  for (let i = 0; i < 5; i++) conn.send('into the void');
  assert.equal((await closed)[0], 1006);
  assert.equal(conn.readyState, 3);
});

test('DeadlineTimer fires deadlines in time order and skips cancelled ones', () => {
  const timer = new DeadlineTimer();
  const fired: string[] = [];
  const record = (name: string): void => {
    fired.push(name);
  };
  timer.schedule(3000, record, 'c');
  const b = timer.schedule(2000, record, 'b');
  timer.schedule(1000, record, 'a');
  timer.schedule(2000, record, 'b2');
  timer.cancel(b);
  timer.cancel(b);
  assert.equal(timer.size, 3);
  timer.runDue(performance.now() + 2500);
  assert.deepEqual(fired, ['a', 'b2']);
  timer.runDue(performance.now() + 5000);
  assert.deepEqual(fired, ['a', 'b2', 'c']);
  assert.equal(timer.size, 0);
});

test('DeadlineTimer.runDue runs only what is due and turns a throwing callback into a process warning', async () => {
  const timer = new DeadlineTimer();
  const fired: number[] = [];
  const warnings: unknown[] = [];
  const onWarning = (w: unknown): void => {
    warnings.push(w);
  };
  process.on('warning', onWarning);
  timer.schedule(0, () => {
    throw new Error('bad callback');
  }, null);
  timer.schedule(0, (n: number) => fired.push(n), 1);
  const late = timer.schedule(60_000, (n: number) => fired.push(n), 2);
  timer.runDue(performance.now() + 1);
  assert.deepEqual(fired, [1]);
  assert.equal(timer.size, 1);
  timer.cancel(late);
  assert.equal(timer.size, 0);
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  assert.equal(warnings.length, 1);
  assert.match(String((warnings[0] as Error).message), /bad callback/);
});

test('DeadlineTimer fires a deadline on time after the one before it was cancelled', async () => {
  // Cancelling the last deadline leaves the Node timer armed for the old time; when it fires early it must re-arm,
  // not run the newer deadline.
  const timer = new DeadlineTimer();
  const fired: string[] = [];
  timer.cancel(timer.schedule(20, () => fired.push('cancelled'), null));
  timer.schedule(300, () => fired.push('later'), null);
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(fired, [], 'nothing fired at 150 ms');
  assert.equal(timer.size, 1);
  const deadline = Date.now() + 5000;
  while (fired.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(fired, ['later']);
});

test('DeadlineTimer fires a deadline that another deadline\'s callback scheduled', async () => {
  const timer = new DeadlineTimer();
  const fired: string[] = [];
  timer.schedule(5, () => {
    fired.push('first');
    timer.schedule(5, () => fired.push('second'), null);
  }, null);
  while (fired.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(fired, ['first', 'second']);
  assert.equal(timer.size, 0);
});

test('a peer that sends without reading makes the server stop reading once readPauseBytes wait, then resume', async (t) => {
  const { port, next } = await countingServer(t, { readPauseBytes: 64 * 1024 });
  const pending = next();
  const raw = await rawWebSocket(t, port);
  raw.socket.pause();
  const { conn } = await pending;
  let echoed = 0;
  let peak = 0;
  conn.on('message', (data: Buffer) => {
    echoed++;
    conn.send(data);
  });
  // 32 MiB: more than loopback's kernel buffers (a few MiB each way) can absorb.
  const message = clientFrame({ opcode: 2, payload: Buffer.alloc(64 * 1024, 1) });
  const count = 512;
  const sendAll = new Promise<void>((resolve) => {
    let i = 0;
    const pump = (): void => {
      while (i < count) {
        i++;
        if (!raw.socket.write(message)) {
          raw.socket.once('drain', pump);
          return;
        }
      }
      resolve();
    };
    pump();
  });
  // Let the server read until it makes no more progress (it paused itself, or it has read everything).
  for (let last = -1, rounds = 0; rounds < 100 && echoed !== last; rounds++) {
    last = echoed;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, conn.bufferedAmount);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  assert.ok(echoed < count, `the server paused reading (${echoed} of ${count} echoed)`);
  assert.ok(peak < 1024 * 1024, `write backlog stayed bounded (peak ${peak} bytes)`);
  raw.socket.resume();
  await sendAll;
  await raw.waitFor(count * (64 * 1024 + 4));
  assert.equal(echoed, count);
});

test('close then terminate twice emits close exactly once, and later calls are no-ops', async (t) => {
  const { url, next } = await countingServer(t);
  const pending = next();
  await openWs(t, url);
  const { conn } = await pending;
  let closes = 0;
  conn.on('close', () => closes++);
  conn.close(1000, 'bye');
  conn.terminate();
  conn.terminate();
  await once(conn, 'close');
  conn.close(1000);
  conn.terminate();
  conn.ping();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(closes, 1);
  assert.equal(conn.readyState, 3);
  assert.equal(conn.wasClean, false);
});

test('pending send callbacks get an error when the socket is destroyed before the flush', async (t) => {
  const { url, next } = await countingServer(t);
  const pending = next();
  await openWs(t, url);
  const { conn } = await pending;
  const result = new Promise<Error | undefined>((resolve) => conn.send('never written', resolve));
  conn.terminate();
  assert.ok((await result) instanceof Error);
});
