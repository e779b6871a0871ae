// The Node client's opening handshake against hand-written servers (http 'upgrade' and raw net), each breaking one
// RFC 6455 §4.1 rule, plus timeouts, refused connections, TLS with a self-signed certificate and the head bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, type CloseEvent, type ErrorEvent } from '../../src/node/websocket.js';
import { connect } from '../../src/node/connect.js';
import { acceptKey, HandshakeError } from '../../src/protocol/index.js';

type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Starts an HTTP server whose 'upgrade' handler writes what each test wants. */
async function upgradeServer(t: TestContext, onUpgrade: UpgradeHandler): Promise<{ server: Server; url: string }> {
  const server = createHttpServer((_req, res) => res.writeHead(404).end());
  const sockets = new Set<Duplex>();
  server.on('upgrade', (request, socket, head) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onUpgrade(request, socket, head);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function respond101(request: IncomingMessage, socket: Duplex, extra: string[] = [], accept?: string): void {
  const key = String(request.headers['sec-websocket-key']);
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept ?? acceptKey(key)}`,
      ...extra,
      '',
      '',
    ].join('\r\n'),
  );
}

function respond101WithFrame(request: IncomingMessage, socket: Duplex, frame: Buffer): void {
  const key = String(request.headers['sec-websocket-key']);
  const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`;
  socket.write(Buffer.concat([Buffer.from(head), frame]));
}

function next<E extends Event = Event>(target: EventTarget, type: string): Promise<E> {
  return new Promise((resolve) => target.addEventListener(type, (event) => resolve(event as E), { once: true }));
}

/** Opens a WebSocket expected to fail: resolves with its error and close events, checking their order. */
async function failure(url: string, protocols?: string[], options = {}): Promise<{ error: ErrorEvent; close: CloseEvent; ws: WebSocket }> {
  const ws = new WebSocket(url, protocols, options);
  const order: string[] = [];
  let opened = false;
  ws.addEventListener('open', () => (opened = true));
  ws.addEventListener('error', () => order.push('error'));
  ws.addEventListener('close', () => order.push('close'));
  const error = next<ErrorEvent>(ws, 'error');
  const close = await next<CloseEvent>(ws, 'close');
  assert.deepEqual(order, ['error', 'close']);
  assert.equal(opened, false, 'a failed handshake never fires open');
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.equal(ws.readyState, WebSocket.CLOSED);
  return { error: await error, close, ws };
}

function handshakeError(event: ErrorEvent): HandshakeError {
  assert.ok(event.error instanceof HandshakeError, `expected a HandshakeError, got ${String(event.error)}`);
  return event.error;
}

test('fails with error then close 1006 when the server answers a wrong Sec-WebSocket-Accept', async (t) => {
  const { url } = await upgradeServer(t, (request, socket) => respond101(request, socket, [], acceptKey('AAAAAAAAAAAAAAAAAAAAAA==')));
  const { error } = await failure(url);
  const err = handshakeError(error);
  assert.equal(err.status, 101);
  assert.match(err.message, /Sec-WebSocket-Accept/);
});

test('fails when the server selects a subprotocol that was not offered', async (t) => {
  const { url } = await upgradeServer(t, (request, socket) => respond101(request, socket, ['Sec-WebSocket-Protocol: other']));
  const { error } = await failure(url, ['chat']);
  assert.match(handshakeError(error).message, /subprotocol/);
});

test('fails when the server selects a subprotocol although none was offered', async (t) => {
  const { url } = await upgradeServer(t, (request, socket) => respond101(request, socket, ['Sec-WebSocket-Protocol: chat']));
  const { error } = await failure(url);
  assert.match(handshakeError(error).message, /subprotocol/);
});

test('fails when the server accepts an extension that was not offered', async (t) => {
  const { url } = await upgradeServer(t, (request, socket) => respond101(request, socket, ['Sec-WebSocket-Extensions: x-custom']));
  const { error } = await failure(url);
  assert.match(handshakeError(error).message, /extension/);
});

test('fails when the server accepts permessage-deflate although the client disabled it', async (t) => {
  const { url } = await upgradeServer(t, (request, socket) => respond101(request, socket, ['Sec-WebSocket-Extensions: permessage-deflate']));
  const { error } = await failure(url, [], { perMessageDeflate: false });
  assert.match(handshakeError(error).message, /extension/);
});

test('fails when the server answers permessage-deflate with an invalid window size', async (t) => {
  const { url } = await upgradeServer(t, (request, socket) =>
    respond101(request, socket, ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7']),
  );
  const { error } = await failure(url);
  assert.match(handshakeError(error).message, /server_max_window_bits/);
});

test('fails without waiting for a timeout when a 101 lacks the Upgrade and Connection headers', async (t) => {
  const { url } = await upgradeServer(t, (_request, socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
  const { error } = await failure(url, [], { handshakeTimeout: 60_000 });
  assert.equal(handshakeError(error).status, 101);
});

test('fails with the status when the server redirects (redirects are not followed)', async (t) => {
  const { url } = await upgradeServer(t, (_request, socket) =>
    socket.end('HTTP/1.1 302 Found\r\nLocation: ws://example.com/\r\nContent-Length: 0\r\n\r\n'),
  );
  const { error } = await failure(url);
  const err = handshakeError(error);
  assert.equal(err.status, 302);
  assert.equal(err.headers?.location, 'ws://example.com/');
});

test('the handshake timeout destroys the request (the server sees the end) of a server that never answers', async (t) => {
  let serverSocketClosed: Promise<unknown> | null = null;
  const { url } = await upgradeServer(t, (_request, socket) => {
    serverSocketClosed = once(socket, 'end');
  });
  const { error } = await failure(url, [], { handshakeTimeout: 150 });
  assert.match(handshakeError(error).message, /timed out/);
  assert.ok(serverSocketClosed !== null);
  await serverSocketClosed;
});

test('the handshake timeout also covers a server that accepts TCP but never sends HTTP', async (t) => {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const error = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { handshakeTimeout: 100 }).then(
    () => assert.fail('should not connect'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof HandshakeError);
  assert.match(error.message, /timed out/);
});

test('a refused TCP connection gives error then close 1006 with the network error as cause', async () => {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const { error } = await failure(`ws://127.0.0.1:${port}`);
  const err = handshakeError(error);
  assert.equal(err.status, undefined);
  assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
});

test('close() while CONNECTING moves to CLOSING at once and then fires error and close 1006', async (t) => {
  const { url } = await upgradeServer(t, () => {});
  const ws = new WebSocket(url);
  const order: string[] = [];
  ws.onerror = () => order.push('error');
  ws.onclose = (event) => order.push(`close ${(event as CloseEvent).code}`);
  ws.close(1000, 'never mind');
  assert.equal(ws.readyState, WebSocket.CLOSING);
  assert.deepEqual(order, [], 'events fire in a later task, not inside close()');
  await next(ws, 'close');
  assert.deepEqual(order, ['error', 'close 1006']);
  assert.equal(ws.readyState, WebSocket.CLOSED);
});

test('connect() rejects with a HandshakeError when its signal aborts the handshake', async (t) => {
  const { url } = await upgradeServer(t, () => {});
  const controller = new AbortController();
  const pending = connect(url, { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, HandshakeError);
});

test('bytes the server sends right behind the 101 (the head) arrive as a message after open', async (t) => {
  // One write: the 101 and an unmasked text frame right behind it.
  const { url } = await upgradeServer(t, (request, socket) => respond101WithFrame(request, socket, Buffer.from([0x81, 0x02, 0x68, 0x69])));
  const ws = new WebSocket(url);
  const order: string[] = [];
  ws.onopen = () => order.push('open');
  const message = await next<MessageEvent>(ws, 'message');
  order.push(`message ${String(message.data)}`);
  assert.deepEqual(order, ['open', 'message hi']);
  ws.close();
});

test('a masked frame from the server fails the connection: 1002 sent, error then close 1006 locally', async (t) => {
  const serverGot: { bytes: Promise<Buffer> | null } = { bytes: null };
  const { url } = await upgradeServer(t, (request, socket) => {
    respond101(request, socket);
    serverGot.bytes = new Promise((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => {
        resolve(Buffer.concat(chunks));
        socket.end();
      });
    });
    // A masked text frame "hi" with key 00 00 00 00.
    socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
  });
  const ws = new WebSocket(url);
  const error = next<ErrorEvent>(ws, 'error');
  const close = await next<CloseEvent>(ws, 'close');
  await error;
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.ok(serverGot.bytes !== null);
  const bytes = await serverGot.bytes;
  // The client's Close frame: FIN + opcode 8, masked, 2+ bytes payload; unmask to read the code.
  assert.equal(bytes[0], 0x88);
  assert.equal(bytes[1] & 0x80, 0x80);
  const mask = bytes.subarray(2, 6);
  const code = ((bytes[6] ^ mask[0]) << 8) | (bytes[7] ^ mask[1]);
  assert.equal(code, 1002);
});

test('the request carries the RFC 6455 §4.1 headers, a fresh 16-byte key and the path with query', async (t) => {
  const requests: IncomingMessage[] = [];
  const { url } = await upgradeServer(t, (request, socket) => {
    requests.push(request);
    socket.destroy();
  });
  await failure(`${url}/chat/room?token=abc`, ['chat', 'superchat']);
  await failure(`${url}/chat/room?token=abc`);
  const [first, second] = requests;
  assert.equal(first.method, 'GET');
  assert.equal(first.url, '/chat/room?token=abc');
  assert.equal(first.httpVersion, '1.1');
  assert.equal(first.headers.upgrade, 'websocket');
  assert.equal(first.headers.connection, 'Upgrade');
  assert.equal(first.headers['sec-websocket-version'], '13');
  assert.equal(first.headers['sec-websocket-protocol'], 'chat, superchat');
  assert.equal(first.headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
  assert.equal(first.headers.host, new URL(url).host);
  assert.equal(Buffer.from(String(first.headers['sec-websocket-key']), 'base64').length, 16);
  assert.notEqual(first.headers['sec-websocket-key'], second.headers['sec-websocket-key']);
  assert.equal(second.headers['sec-websocket-protocol'], undefined);
});

test('credentials in the URL are sent as Basic authorization', async (t) => {
  const auth: (string | undefined)[] = [];
  const { url } = await upgradeServer(t, (request, socket) => {
    auth.push(request.headers.authorization);
    socket.destroy();
  });
  await failure(url.replace('ws://', 'ws://user:p%40ss@'));
  assert.deepEqual(auth, [`Basic ${Buffer.from('user:p@ss').toString('base64')}`]);
});

function selfSignedCertificate(t: TestContext): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'hayate-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

test('wss:// works against an https server with a self-signed certificate given as ca, and fails without it', async (t) => {
  const { key, cert } = selfSignedCertificate(t);
  const { WebSocketServer } = await import('ws');
  const server = createHttpsServer({ key, cert });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;

  const ws = new WebSocket(`wss://localhost:${port}/`, [], { ca: cert });
  await next(ws, 'open');
  ws.send('over tls');
  assert.equal((await next<MessageEvent>(ws, 'message')).data, 'over tls');
  ws.close(1000);
  assert.equal((await next<CloseEvent>(ws, 'close')).wasClean, true);

  const { error } = await failure(`wss://localhost:${port}/`);
  assert.match(String((handshakeError(error).cause as Error).message), /self[- ]signed|certificate/i);

  const insecure = await connect(`https://127.0.0.1:${port}/`, { rejectUnauthorized: false });
  insecure.send('https: maps to wss:');
  const [data] = (await once(insecure, 'message')) as [Buffer];
  assert.equal(data.toString(), 'https: maps to wss:');
  insecure.close();
  await once(insecure, 'close');
});

test('an IPv6 literal URL connects to [::1] and sends a bracketed Host header', async (t) => {
  const hosts: (string | undefined)[] = [];
  const server = createHttpServer();
  server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    hosts.push(request.headers.host);
    socket.destroy();
  });
  try {
    server.listen(0, '::1');
    await once(server, 'listening');
  } catch (err) {
    t.skip(`no IPv6 loopback here: ${String(err)}`);
    return;
  }
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  await failure(`ws://[::1]:${port}/`);
  assert.deepEqual(hosts, [`[::1]:${port}`]);
});

test('connect() delivers a message that arrived in the same read as the 101 to a listener added after await', async (t) => {
  // One write: the 101 and an unmasked text frame right behind it.
  const { url } = await upgradeServer(t, (request, socket) => respond101WithFrame(request, socket, Buffer.from([0x81, 0x07, ...Buffer.from('welcome')])));
  const connection = await connect(url);
  t.after(() => connection.terminate());
  const [data] = (await once(connection, 'message')) as [Buffer];
  assert.equal(data.toString(), 'welcome');
});

test('a message in the same read as the 101 reaches an onmessage handler set after awaiting open (as in browsers)', async (t) => {
  // One write: the 101 and an unmasked text frame right behind it.
  const { url } = await upgradeServer(t, (request, socket) => respond101WithFrame(request, socket, Buffer.from([0x81, 0x07, ...Buffer.from('welcome')])));
  const ws = new WebSocket(url);
  t.after(() => ws.close());
  await new Promise((resolve) => (ws.onopen = resolve));
  const message = await new Promise<MessageEvent>((resolve) => (ws.onmessage = (event) => resolve(event as MessageEvent)));
  assert.equal(message.data, 'welcome');
});

// RFC 6455 §4.1: "There MUST be no more than one connection in a CONNECTING state" per host and port; "the client MUST
// serialize them".
test('connections to one host and port are serialized: one CONNECTING at a time, the next starts when it opens or fails', async (t) => {
  let pending = 0;
  let peak = 0;
  let seen = 0;
  const { url } = await upgradeServer(t, (request, socket) => {
    pending++;
    peak = Math.max(peak, pending);
    const n = ++seen;
    setTimeout(() => {
      pending--;
      // The second handshake fails (a 400), the others open: a failure must release the next one too.
      if (n === 2) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      else respond101(request, socket);
    }, 30);
  });
  const outcomes = await Promise.all(
    [0, 1, 2, 3].map(
      (i) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => {
            resolve(`open ${i}`);
            ws.close();
          };
          ws.onerror = () => resolve(`error ${i}`);
        }),
    ),
  );
  assert.deepEqual(outcomes, ['open 0', 'error 1', 'open 2', 'open 3']);
  assert.equal(seen, 4);
  assert.equal(peak, 1, 'never two upgrade requests in flight to the same host and port');
});

test('a connection closed while it waits behind another CONNECTING one never sends its request', async (t) => {
  let seen = 0;
  const { url } = await upgradeServer(t, (request, socket) => {
    seen++;
    setTimeout(() => respond101(request, socket), 30);
  });
  const first = new WebSocket(url);
  const second = new WebSocket(url);
  second.close();
  const closed = await next<CloseEvent>(second, 'close');
  assert.equal(closed.code, 1006);
  await next(first, 'open');
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(seen, 1, 'only the first request reached the server');
});
