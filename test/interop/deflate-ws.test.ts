// permessage-deflate interop with the `ws` package on both sides, across every parameter combination: our server with
// ws clients (the client's perMessageDeflate options varied, then ours), and ws servers with our client. Each
// connection exchanges whole and fragmented compressed messages both ways, several times (so context takeover, or its
// absence, is exercised), and checks that the bytes on the wire really were compressed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import WebSocket, { WebSocketServer as WsServer, type PerMessageDeflateOptions as WsDeflateOptions } from 'ws';
import { connect, type Connection } from '../../src/node/index.js';
import type { PerMessageDeflateOptions } from '../../src/protocol/index.js';
import { startServer } from '../node/server-fixtures.js';

/** A compressible message that differs per round, so context takeover has something to refer back to. */
function text(round: number, size: number): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"room":"lobby"}', 'hayate', 'deflate'];
  let out = `#${round} `;
  let x = round * 7919 + size;
  while (out.length < size) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += words[x % words.length] + ' ';
  }
  return out.slice(0, size);
}

const PARTS = 3;

/**
 * Server behaviour shared by both servers under test: a message starting with "frag:" is echoed as PARTS fragments,
 * anything else is echoed whole.
 */
function echoParts(data: string): string[] {
  const step = Math.ceil(data.length / PARTS);
  return Array.from({ length: PARTS }, (_, i) => data.slice(i * step, (i + 1) * step));
}

function nextWsMessage(ws: WebSocket): Promise<string> {
  return once(ws, 'message').then(([data]) => (data as Buffer).toString());
}

function nextMessage(conn: Connection): Promise<string> {
  return once(conn, 'message').then(([data]) => (data as Buffer).toString());
}

const wsCombos: WsDeflateOptions[] = [];
for (const serverNoContextTakeover of [false, true]) {
  for (const clientNoContextTakeover of [false, true]) {
    for (const serverMaxWindowBits of [undefined, 8, 11, 15]) {
      // undefined: a ws client offers client_max_window_bits without a value; a ws server leaves it to the client.
      for (const clientMaxWindowBits of [undefined, 8, 11, 15]) {
        wsCombos.push({ serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, threshold: 0 });
      }
    }
  }
}

async function ourEchoServer(t: TestContext, perMessageDeflate: PerMessageDeflateOptions) {
  const started = await startServer(t, { perMessageDeflate });
  started.wss.on('connection', (conn: Connection) => {
    conn.on('message', (data: Buffer, isBinary: boolean) => {
      const message = data.toString();
      if (message.startsWith('frag:')) {
        const parts = echoParts(message);
        parts.forEach((part, i) => conn.send(part, { fin: i === parts.length - 1 }));
      } else {
        conn.send(data, { binary: isBinary });
      }
    });
  });
  return started;
}

/** Runs the exchange between a ws client and an echo server; returns the negotiated extension header. */
async function exerciseWsClient(t: TestContext, url: string, options: WsDeflateOptions): Promise<string> {
  const ws = new WebSocket(url, { perMessageDeflate: options });
  t.after(() => ws.terminate());
  // ws.extensions holds only the names; the response header tells the parameters.
  let header = '';
  ws.once('upgrade', (res) => {
    header = String(res.headers['sec-websocket-extensions'] ?? '');
  });
  await once(ws, 'open');
  assert.match(header, /^permessage-deflate/, 'negotiated');
  for (let round = 0; round < 3; round++) {
    const whole = text(round, 2000 + round * 500);
    ws.send(whole);
    assert.equal(await nextWsMessage(ws), whole, `whole message, round ${round}`);
    const fragmented = 'frag:' + text(round + 10, 3000);
    const parts = echoParts(fragmented);
    const echoed = nextWsMessage(ws);
    parts.forEach((part, i) => ws.send(part, { fin: i === parts.length - 1, compress: true }));
    assert.equal(await echoed, fragmented, `fragmented message, round ${round}`);
  }
  // The wire carries compressed bytes both ways: 200 KB of text costs a few KB.
  const socket = (ws as unknown as { _socket: { bytesRead: number; bytesWritten: number } })._socket;
  const readBefore = socket.bytesRead;
  const writtenBefore = socket.bytesWritten;
  const big = 'compressible '.repeat(16_000);
  ws.send(big);
  assert.equal(await nextWsMessage(ws), big);
  assert.ok(socket.bytesRead - readBefore < 20_000, `received ${socket.bytesRead - readBefore} bytes for ${big.length}`);
  assert.ok(socket.bytesWritten - writtenBefore < 20_000, `sent ${socket.bytesWritten - writtenBefore} bytes for ${big.length}`);
  return header;
}

describe('our server, ws client', () => {
  test('every ws client parameter combination against our default server', async (t) => {
    const { url } = await ourEchoServer(t, { threshold: 0 });
    for (const options of wsCombos) {
      await t.test(JSON.stringify(options), async (st) => {
        const header = await exerciseWsClient(st, url, options);
        if (options.serverNoContextTakeover) assert.match(header, /server_no_context_takeover/);
        if (typeof options.serverMaxWindowBits === 'number') assert.match(header, new RegExp(`server_max_window_bits=${options.serverMaxWindowBits}`));
        if (typeof options.clientMaxWindowBits === 'number') assert.match(header, new RegExp(`client_max_window_bits=${options.clientMaxWindowBits}`));
      });
    }
  });

  const serverCombos: PerMessageDeflateOptions[] = [
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    { serverNoContextTakeover: true },
    { clientNoContextTakeover: true },
    { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    { serverMaxWindowBits: 9, clientMaxWindowBits: 12 },
    { serverMaxWindowBits: 15, clientMaxWindowBits: 10, serverNoContextTakeover: true },
    { zlibDeflateOptions: { level: 1, memLevel: 1 } },
  ];
  for (const serverOptions of serverCombos) {
    test(`our server with ${JSON.stringify(serverOptions)} against ws clients`, async (t) => {
      const { url } = await ourEchoServer(t, { threshold: 0, ...serverOptions });
      for (const clientOptions of [{ threshold: 0 }, { threshold: 0, clientMaxWindowBits: 15 }, { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }] as WsDeflateOptions[]) {
        const header = await exerciseWsClient(t, url, clientOptions);
        if (serverOptions.serverNoContextTakeover === true) assert.match(header, /server_no_context_takeover/);
        if (serverOptions.clientNoContextTakeover === true) assert.match(header, /client_no_context_takeover/);
        if (serverOptions.serverMaxWindowBits !== undefined) assert.match(header, new RegExp(`server_max_window_bits=${serverOptions.serverMaxWindowBits}`));
      }
    });
  }
});

interface WsEcho {
  url: string;
  /** The server side of the latest connection (its socket counts the bytes on the wire). */
  latest: () => WebSocket;
}

async function wsEchoServer(t: TestContext, perMessageDeflate: WsDeflateOptions): Promise<WsEcho> {
  const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await once(wss, 'listening');
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  let latest: WebSocket | null = null;
  wss.on('connection', (ws) => {
    latest = ws;
    ws.on('message', (data: Buffer) => {
      const message = data.toString();
      if (message.startsWith('frag:')) {
        const parts = echoParts(message);
        parts.forEach((part, i) => ws.send(part, { fin: i === parts.length - 1, compress: true }));
      } else {
        ws.send(message);
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    latest: () => latest ?? assert.fail('no connection yet'),
  };
}

async function exerciseOurClient(t: TestContext, server: WsEcho, options: PerMessageDeflateOptions): Promise<string> {
  const conn = await connect(server.url, { perMessageDeflate: options });
  t.after(() => conn.terminate());
  const header = conn.extensions;
  assert.match(header, /^permessage-deflate/, 'negotiated');
  for (let round = 0; round < 3; round++) {
    const whole = text(round, 2000 + round * 500);
    conn.send(whole);
    assert.equal(await nextMessage(conn), whole, `whole message, round ${round}`);
    const fragmented = 'frag:' + text(round + 10, 3000);
    const echoed = nextMessage(conn);
    const parts = echoParts(fragmented);
    parts.forEach((part, i) => conn.send(part, { fin: i === parts.length - 1 }));
    assert.equal(await echoed, fragmented, `fragmented message, round ${round}`);
  }
  // The wire carries compressed bytes both ways: 200 KB of text costs a few KB (counted on the ws server's socket).
  const socket = (server.latest() as unknown as { _socket: { bytesRead: number; bytesWritten: number } })._socket;
  const readBefore = socket.bytesRead;
  const writtenBefore = socket.bytesWritten;
  const big = 'compressible '.repeat(16_000);
  conn.send(big);
  assert.equal(await nextMessage(conn), big);
  assert.ok(socket.bytesRead - readBefore < 20_000, `server received ${socket.bytesRead - readBefore} bytes for ${big.length}`);
  assert.ok(socket.bytesWritten - writtenBefore < 20_000, `server sent ${socket.bytesWritten - writtenBefore} bytes for ${big.length}`);
  return header;
}

describe('ws server, our client', () => {
  test('every parameter combination of our client against a default ws server', async (t) => {
    const server = await wsEchoServer(t, { threshold: 0 });
    for (const serverNoContextTakeover of [undefined, true]) {
      for (const clientNoContextTakeover of [undefined, true]) {
        for (const serverMaxWindowBits of [undefined, 8, 11, 15]) {
          for (const clientMaxWindowBits of [true, 8, 11, 15]) {
            const options: PerMessageDeflateOptions = { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, threshold: 0 };
            await t.test(JSON.stringify(options), async (st) => {
              const header = await exerciseOurClient(st, server, options);
              if (serverNoContextTakeover === true) assert.match(header, /server_no_context_takeover/);
              if (serverMaxWindowBits !== undefined) assert.match(header, new RegExp(`server_max_window_bits=${serverMaxWindowBits}`));
            });
          }
        }
      }
    }
  });

  test('our default client against every ws server parameter combination', async (t) => {
    for (const options of wsCombos) {
      await t.test(JSON.stringify(options), async (st) => {
        const server = await wsEchoServer(st, options);
        const header = await exerciseOurClient(st, server, { threshold: 0 });
        if (options.serverNoContextTakeover) assert.match(header, /server_no_context_takeover/);
        if (typeof options.serverMaxWindowBits === 'number') assert.match(header, new RegExp(`server_max_window_bits=${options.serverMaxWindowBits}`));
        if (typeof options.clientMaxWindowBits === 'number') assert.match(header, new RegExp(`client_max_window_bits=${options.clientMaxWindowBits}`));
      });
    }
  });
});

describe('decompression bombs over real sockets', () => {
  test('our server closes with 1009 when a ws client sends 10 MB of zeros compressed, maxPayload 1 MiB', async (t) => {
    const { wss, url } = await startServer(t, { perMessageDeflate: { threshold: 0 }, maxPayload: 1024 * 1024 });
    const serverMessages: number[] = [];
    wss.on('connection', (conn: Connection) => conn.on('message', (data: Buffer) => serverMessages.push(data.length)));
    const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
    t.after(() => ws.terminate());
    await once(ws, 'open');
    const socket = (ws as unknown as { _socket: { bytesWritten: number } })._socket;
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    ws.send(Buffer.alloc(10 * 1024 * 1024));
    const [code] = await closed;
    assert.equal(code, 1009);
    assert.deepEqual(serverMessages, []);
    assert.ok(socket.bytesWritten < 100_000, `the bomb was small on the wire (${socket.bytesWritten} bytes)`);
  });

  test('our client closes with 1009 when a ws server sends 10 MB of zeros compressed, maxPayload 1 MiB', async (t) => {
    const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
    await once(wss, 'listening');
    t.after(async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    });
    const serverSaw = new Promise<number>((resolve) => {
      wss.on('connection', (ws) => {
        ws.on('close', (code: number) => resolve(code));
        ws.send(Buffer.alloc(10 * 1024 * 1024));
      });
    });
    const conn = await connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: { threshold: 0 }, maxPayload: 1024 * 1024 });
    t.after(() => conn.terminate());
    const messages: number[] = [];
    conn.on('message', (data: Buffer) => messages.push(data.length));
    conn.on('error', () => undefined);
    assert.equal(await serverSaw, 1009);
    assert.deepEqual(messages, []);
  });
});
