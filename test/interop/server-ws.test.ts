// Our WebSocketServer against the `ws` client: messages of every length class, fragmented sends, pings and pongs both
// ways, subprotocols and every close path, with what each side reports.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Connection } from '../../src/node/index.js';
import { closeCodeOf, openWs, rawConnect, rawWebSocket, startServer, upgradeRequest, wsClose } from '../node/server-fixtures.js';

type Closed = { code: number; reason: string; wasClean: boolean };

function serverClose(conn: Connection): Promise<Closed> {
  return new Promise((resolve) => {
    conn.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), wasClean: conn.wasClean }));
  });
}

async function echoServer(t: Parameters<typeof startServer>[0], options: Parameters<typeof startServer>[1] = {}) {
  const started = await startServer(t, options);
  started.wss.on('connection', (conn: Connection) => {
    conn.on('message', (data: Buffer, isBinary: boolean) => conn.send(data, { binary: isBinary }));
  });
  return started;
}

test('echoes text and binary messages of 0, 125, 126, 65535, 65536 bytes and 16 MiB to a ws client', async (t) => {
  const { url } = await echoServer(t);
  const ws = await openWs(t, url);
  for (const size of [0, 125, 126, 65535, 65536, 16 * 1024 * 1024]) {
    for (const binary of [false, true]) {
      const payload = Buffer.alloc(size, binary ? 0xab : 0x61);
      ws.send(binary ? payload : payload.toString(), { binary });
      const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
      assert.equal(isBinary, binary, `isBinary for ${size}`);
      assert.equal(data.length, size);
      assert.ok(data.equals(payload), `payload of ${size} bytes (${binary ? 'binary' : 'text'})`);
    }
  }
});

test('reports text messages as Buffers with isBinary=false and binary ones with isBinary=true', async (t) => {
  const { wss, url } = await startServer(t);
  const got = new Promise<[Buffer, boolean][]>((resolve) => {
    wss.on('connection', (conn: Connection) => {
      const seen: [Buffer, boolean][] = [];
      conn.on('message', (data: Buffer, isBinary: boolean) => {
        seen.push([data, isBinary]);
        if (seen.length === 2) resolve(seen);
      });
    });
  });
  const ws = await openWs(t, url);
  ws.send('héllo');
  ws.send(Buffer.from([1, 2, 3]));
  const [[text, textBinary], [bin, binBinary]] = await got;
  assert.ok(Buffer.isBuffer(text));
  assert.equal(text.toString(), 'héllo');
  assert.equal(textBinary, false);
  assert.deepEqual([...bin], [1, 2, 3]);
  assert.equal(binBinary, true);
});

test('reassembles a message the ws client sends in fragments (fin: false)', async (t) => {
  const { url } = await echoServer(t);
  const ws = await openWs(t, url);
  ws.send('hel', { fin: false });
  ws.send('lo ', { fin: false });
  ws.send('world', { fin: true });
  const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
  assert.equal(data.toString(), 'hello world');
  assert.equal(isBinary, false);
});

test('streams a fragmented message from the server (send with fin: false) that ws reassembles', async (t) => {
  const { wss, url } = await startServer(t);
  wss.on('connection', (conn: Connection) => {
    conn.once('message', () => {
      conn.send(Buffer.from('abc'), { binary: true, fin: false });
      conn.send(Buffer.from('def'), { binary: true, fin: false });
      conn.send(Buffer.from('g'), { binary: true, fin: true });
      conn.send('after');
    });
  });
  const ws = await openWs(t, url);
  ws.send('go');
  const messages: [string, boolean][] = [];
  await new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      messages.push([data.toString(), isBinary]);
      if (messages.length === 2) resolve();
    });
  });
  assert.deepEqual(messages, [['abcdefg', true], ['after', false]]);
});

test('answers a ws client ping with a pong carrying the same data, and emits ping', async (t) => {
  const { wss, url } = await startServer(t);
  const serverSaw = new Promise<Buffer>((resolve) => wss.on('connection', (c: Connection) => c.on('ping', resolve)));
  const ws = await openWs(t, url);
  ws.ping(Buffer.from('are you there'));
  const [pong] = (await once(ws, 'pong')) as [Buffer];
  assert.equal(pong.toString(), 'are you there');
  assert.equal((await serverSaw).toString(), 'are you there');
});

test('sends pings the ws client answers, surfaced as pong events', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const clientPing = once(ws, 'ping');
  const pong = once(c, 'pong');
  c.ping('p1');
  assert.equal(((await clientPing)[0] as Buffer).toString(), 'p1');
  assert.equal(((await pong)[0] as Buffer).toString(), 'p1');
  c.pong('unsolicited');
  const [p] = (await once(ws, 'pong')) as [Buffer];
  assert.equal(p.toString(), 'unsolicited');
});

test('picks the first offered subprotocol by default and the hook\'s choice when given', async (t) => {
  const a = await startServer(t);
  const ws1 = await openWs(t, a.url, ['chat.v2', 'chat.v1']);
  assert.equal(ws1.protocol, 'chat.v2');
  assert.equal([...a.wss.clients][0].protocol, 'chat.v2');

  const b = await startServer(t, { handleProtocols: (set) => (set.has('chat.v1') ? 'chat.v1' : false) });
  const ws2 = await openWs(t, b.url, ['chat.v2', 'chat.v1']);
  assert.equal(ws2.protocol, 'chat.v1');
  // The hook declines: the 101 carries no Sec-WebSocket-Protocol (ws clients then fail; browsers go on without one).
  const raw = await rawConnect(t, b.port);
  raw.write(upgradeRequest(b.port, { 'Sec-WebSocket-Protocol': 'other' }));
  const [head] = (await once(raw, 'data')) as [Buffer];
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
  assert.doesNotMatch(head.toString('latin1'), /sec-websocket-protocol/i);
});

test('client-initiated close: both sides see the code and reason, cleanly', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const serverSide = serverClose(c);
  const clientSide = wsClose(ws);
  ws.close(4001, 'bye now');
  assert.deepEqual(await serverSide, { code: 4001, reason: 'bye now', wasClean: true });
  assert.deepEqual(await clientSide, { code: 4001, reason: 'bye now', wasClean: true });
  assert.equal(c.readyState, 3);
  assert.equal(wss.clients.size, 0);
});

test('server-initiated close: the ws client sees code and reason; the server closes TCP after the exchange', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const serverSide = serverClose(c);
  const clientSide = wsClose(ws);
  c.close(1000, 'done');
  assert.equal(c.readyState, 2);
  assert.deepEqual(await clientSide, { code: 1000, reason: 'done', wasClean: true });
  assert.deepEqual(await serverSide, { code: 1000, reason: 'done', wasClean: true });
});

test('a close without a code is reported as 1005 on both sides', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const serverSide = serverClose(c);
  const clientSide = wsClose(ws);
  c.close();
  assert.equal((await clientSide).code, 1005);
  assert.equal((await serverSide).code, 1005);
});

test('terminate() drops TCP: both sides see 1006, not clean', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const serverSide = serverClose(c);
  const clientSide = wsClose(ws);
  c.terminate();
  assert.deepEqual(await serverSide, { code: 1006, reason: '', wasClean: false });
  assert.equal((await clientSide).code, 1006);
});

test('a client that drops TCP without a close frame is reported as 1006', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const serverSide = serverClose(c);
  ws.terminate();
  assert.deepEqual(await serverSide, { code: 1006, reason: '', wasClean: false });
});

test('close timeout: a raw peer that never answers the close frame is destroyed after closeTimeout', async (t) => {
  const { wss, port } = await startServer(t, { closeTimeout: 300 });
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const raw = await rawWebSocket(t, port);
  const c = await conn;
  const serverSide = serverClose(c);
  c.close(1000, 'going');
  await raw.waitFor(4);
  assert.equal(closeCodeOf(raw.received()), 1000);
  // The raw peer keeps its side open and never sends a Close: the server must give up on its own.
  const result = await serverSide;
  assert.equal(result.code, 1006);
  assert.equal(result.wasClean, false);
  await raw.ended;
});

test('send callbacks run once the bytes are written, and bufferedAmount returns to 0', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const order: number[] = [];
  await new Promise<void>((resolve) => {
    c.send('a', () => order.push(1));
    c.send('b', { binary: false }, () => order.push(2));
    c.send(Buffer.alloc(10), (err) => {
      assert.equal(err, undefined);
      order.push(3);
      resolve();
    });
    assert.ok(c.bufferedAmount > 0, 'queued bytes count before the flush');
  });
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(c.bufferedAmount, 0);
  ws.close();
});

test('send after close reports an error to the callback instead of throwing', async (t) => {
  const { wss, url } = await startServer(t);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  await openWs(t, url);
  const c = await conn;
  c.close(1000);
  const err = await new Promise<Error | undefined>((resolve) => c.send('late', resolve));
  assert.ok(err instanceof Error);
});

test('a broadcast of a prepared message reaches every ws client', async (t) => {
  const { wss, url } = await startServer(t);
  const clients = [await openWs(t, url), await openWs(t, url), await openWs(t, url)];
  while (wss.clients.size < 3) await new Promise((r) => setImmediate(r));
  const prepared = wss.prepare('to everyone');
  const received = clients.map((ws) => once(ws, 'message'));
  for (const c of wss.clients) c.send(prepared);
  for (const r of await Promise.all(received)) assert.equal((r[0] as Buffer).toString(), 'to everyone');
});

test('server close() closes every connection with 1001 and emits close', async (t) => {
  const { wss, url } = await startServer(t);
  const ws = await openWs(t, url);
  const clientSide = wsClose(ws);
  const closed = once(wss, 'close');
  wss.close();
  assert.equal((await clientSide).code, 1001);
  await closed;
});
