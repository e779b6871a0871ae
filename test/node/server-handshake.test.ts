// WebSocketServer's opening handshake and ways to run: own port (426 for plain HTTP), attached to an http.Server with
// two paths, noServer + handleUpgrade, the accept hook, allowedOrigins, and the RFC's 400/426 answers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketServer, type Connection } from '../../src/node/index.js';
import { closeServer, openWs, rawHttp, startServer, upgradeRequest } from './server-fixtures.js';

function unexpectedResponse(url: string, options?: WebSocket.ClientOptions): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('unexpectedly opened'));
    });
    ws.on('error', () => {});
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers });
        ws.terminate();
      });
    });
  });
}

test('own port: a plain HTTP request gets 426 Upgrade Required', async (t) => {
  const { port } = await startServer(t);
  const res = await rawHttp(t, port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  assert.match(res, /^HTTP\/1\.1 426 /);
});

test('the 101 carries the RFC sample accept value for the RFC sample key', async (t) => {
  const { port } = await startServer(t);
  const socket = (await import('node:net')).connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write(upgradeRequest(port));
  const [data] = (await once(socket, 'data')) as [Buffer];
  const head = data.toString('latin1');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.match(head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
});

test('answers 426 with Sec-WebSocket-Version: 13 to another version', async (t) => {
  const { port } = await startServer(t);
  const res = await rawHttp(t, port, upgradeRequest(port, { 'Sec-WebSocket-Version': '8' }));
  assert.match(res, /^HTTP\/1\.1 426 /);
  assert.match(res, /\r\nSec-WebSocket-Version: 13\r\n/i);
});

test('answers 400 to a key that does not decode to 16 bytes', async (t) => {
  const { port } = await startServer(t);
  const res = await rawHttp(t, port, upgradeRequest(port, { 'Sec-WebSocket-Key': 'dG9vIHNob3J0' }));
  assert.match(res, /^HTTP\/1\.1 400 /);
});

test('answers 400 to an upgrade request whose Upgrade is not websocket', async (t) => {
  const { port } = await startServer(t);
  const bad = await rawHttp(t, port, upgradeRequest(port, { Upgrade: 'h2c' }));
  assert.match(bad, /^HTTP\/1\.1 400 /);
});

test('accept hook rejecting with 401 and a body: the ws client sees the status and body, no connection is made', async (t) => {
  const seen: { path: string; token: string | null; origin: string | undefined }[] = [];
  const { wss, url } = await startServer(t, {
    accept: async (info) => {
      seen.push({ path: info.path, token: info.query.get('token'), origin: info.origin });
      await new Promise((r) => setTimeout(r, 10));
      if (info.query.get('token') === 'good') return true;
      return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: 'bad token' };
    },
  });
  let connections = 0;
  wss.on('connection', () => connections++);
  const res = await unexpectedResponse(`${url}/chat?token=bad`, { origin: 'https://app.example' });
  assert.equal(res.status, 401);
  assert.equal(res.body, 'bad token');
  assert.equal(res.headers['www-authenticate'], 'Bearer');
  assert.equal(connections, 0);
  await openWs(t, `${url}/chat?token=good`);
  assert.deepEqual(seen, [
    { path: '/chat', token: 'bad', origin: 'https://app.example' },
    { path: '/chat', token: 'good', origin: undefined },
  ]);
});

test('an accept hook that throws is answered with 500 and nothing crashes', async (t) => {
  const { url } = await startServer(t, {
    accept: () => {
      throw new Error('boom');
    },
  });
  assert.equal((await unexpectedResponse(url)).status, 500);
});

test('allowedOrigins: another Origin gets 403, a listed one is accepted', async (t) => {
  const { url } = await startServer(t, { allowedOrigins: ['https://good.example'] });
  assert.equal((await unexpectedResponse(url, { origin: 'https://evil.example' })).status, 403);
  await openWs(t, url, undefined, { origin: 'https://good.example' });
});

test('ws verifyClient (async form) can refuse with a code', async (t) => {
  const { url } = await startServer(t, {
    verifyClient: (info, done) => done(info.req.headers['x-pass'] === 'yes', 418, 'teapot'),
  });
  assert.equal((await unexpectedResponse(url)).status, 418);
  await openWs(t, url, undefined, { headers: { 'x-pass': 'yes' } });
});

test('maxConnections: an upgrade past the limit gets 503', async (t) => {
  const { url } = await startServer(t, { maxConnections: 1 });
  await openWs(t, url);
  assert.equal((await unexpectedResponse(url)).status, 503);
});

test('attached to an http.Server: two servers on two paths, other paths get 400, plain requests go to the app', async (t) => {
  const http = createServer((_req, res) => res.end('app'));
  const a = new WebSocketServer({ server: http, path: '/a', heartbeatInterval: 0 });
  const b = new WebSocketServer({ server: http, path: '/b', heartbeatInterval: 0 });
  a.on('connection', (c: Connection) => c.on('message', () => c.send('from a')));
  b.on('connection', (c: Connection) => c.on('message', () => c.send('from b')));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(async () => {
    await closeServer(a);
    await closeServer(b);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  const port = (http.address() as { port: number }).port;
  const wsA = await openWs(t, `ws://127.0.0.1:${port}/a?x=1`);
  wsA.send('hi');
  assert.equal(((await once(wsA, 'message'))[0] as Buffer).toString(), 'from a');
  const wsB = await openWs(t, `ws://127.0.0.1:${port}/b`);
  wsB.send('hi');
  assert.equal(((await once(wsB, 'message'))[0] as Buffer).toString(), 'from b');
  assert.equal(a.clients.size, 1);
  assert.equal(b.clients.size, 1);
  assert.equal((await unexpectedResponse(`ws://127.0.0.1:${port}/c`)).status, 400);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await res.text(), 'app');
});

test('attached to an https.Server: wss:// echo with the ws client', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hayate-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  } catch {
    t.skip('openssl is not available to make a test certificate');
    return;
  }
  const https = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
  const wss = new WebSocketServer({ server: https, heartbeatInterval: 0 });
  wss.on('connection', (c: Connection) => c.on('message', (d: Buffer, isBinary: boolean) => c.send(d, { binary: isBinary })));
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  t.after(async () => {
    await closeServer(wss);
    https.closeAllConnections();
    await new Promise((r) => https.close(r));
  });
  const port = (https.address() as { port: number }).port;
  const ws = await openWs(t, `wss://127.0.0.1:${port}/`, undefined, { rejectUnauthorized: false });
  ws.send(Buffer.alloc(70_000, 7));
  const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
  assert.equal(isBinary, true);
  assert.ok(data.equals(Buffer.alloc(70_000, 7)));
});

test('noServer: handleUpgrade from an app-owned upgrade listener', async (t) => {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, heartbeatInterval: 0 });
  assert.throws(() => wss.address());
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url !== '/ws') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (conn, request) => {
      assert.equal(request, req);
      wss.emit('connection', conn, request);
    });
  });
  wss.on('connection', (c: Connection) => c.on('message', (d: Buffer) => c.send(`echo ${d.toString()}`)));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(async () => {
    await closeServer(wss);
    await new Promise((r) => http.close(r));
  });
  const port = (http.address() as { port: number }).port;
  const ws = await openWs(t, `ws://127.0.0.1:${port}/ws`);
  ws.send('hi');
  assert.equal(((await once(ws, 'message'))[0] as Buffer).toString(), 'echo hi');
});

test('headers event lets the app add a header line to the 101', async (t) => {
  const { wss, url } = await startServer(t);
  wss.on('headers', (lines: string[]) => lines.push('X-Hello: world'));
  const ws = new WebSocket(url);
  t.after(() => ws.terminate());
  const [res] = (await once(ws, 'upgrade')) as [IncomingMessage];
  assert.equal(res.headers['x-hello'], 'world');
});

test('constructor requires exactly one of port, server, noServer', () => {
  assert.throws(() => new WebSocketServer({}), TypeError);
  assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), TypeError);
});

test('an upgraded connection outlives the handshake timeout (Node request timeouts stop at the upgrade)', async (t) => {
  const { wss, url } = await startServer(t, { handshakeTimeout: 200 });
  wss.on('connection', (c: Connection) => c.on('message', (d: Buffer) => c.send(d)));
  const ws = await openWs(t, url);
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.send('still here');
  assert.equal(((await once(ws, 'message'))[0] as Buffer).toString(), 'still here');
});

test('clientTracking: false keeps no clients set; connections still work and close', async (t) => {
  const { wss, url } = await startServer(t, { clientTracking: false });
  assert.equal(wss.clients, undefined);
  const conn = new Promise<Connection>((resolve) => wss.on('connection', resolve));
  const ws = await openWs(t, url);
  const c = await conn;
  const closed = once(c, 'close');
  ws.close(1000);
  assert.equal((await closed)[0], 1000);
});

test('a handleProtocols hook answering a protocol the client did not offer selects none', async (t) => {
  const { port } = await startServer(t, { handleProtocols: () => 'never-offered' });
  const socket = (await import('node:net')).connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write(upgradeRequest(port, { 'Sec-WebSocket-Protocol': 'a, b' }));
  const [data] = (await once(socket, 'data')) as [Buffer];
  assert.match(data.toString('latin1'), /^HTTP\/1\.1 101 /);
  assert.doesNotMatch(data.toString('latin1'), /sec-websocket-protocol/i);
});

test('ws verifyClient (sync form) refusing gives 401', async (t) => {
  const { url } = await startServer(t, { verifyClient: (info) => info.origin === 'https://ok.example' });
  assert.equal((await unexpectedResponse(url)).status, 401);
  await openWs(t, url, undefined, { origin: 'https://ok.example' });
});

test('shouldHandle compares the path without its query string', async (t) => {
  const { wss } = await startServer(t, { path: '/ws' });
  assert.equal(wss.shouldHandle({ url: '/ws?token=1' } as IncomingMessage), true);
  assert.equal(wss.shouldHandle({ url: '/ws/other' } as IncomingMessage), false);
});

test('noServer with a path: handleUpgrade for another path answers 400', async (t) => {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, path: '/ws', heartbeatInterval: 0 });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head, () => {}));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(async () => {
    await closeServer(wss);
    await new Promise((r) => http.close(r));
  });
  const port = (http.address() as { port: number }).port;
  assert.equal((await unexpectedResponse(`ws://127.0.0.1:${port}/elsewhere`)).status, 400);
});

/** rawHead sends a request and resolves with the response head (up to the blank line), then drops the socket. */
async function rawHead(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  try {
    await once(socket, 'connect');
    socket.write(request);
    let head = '';
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end >= 0) return head.slice(0, end + 2);
    }
    return head;
  } finally {
    socket.destroy();
  }
}

// RFC 6455 §4.2.1-4.2.2 on Node's own parser, each answer pinned on the wire (status and the headers that matter).
const handshakeCases: { name: string; request: (port: number) => string; status: number; header?: RegExp }[] = [
  { name: 'a POST', request: (p) => upgradeRequest(p).replace(/^GET/, 'POST'), status: 405, header: /\r\nAllow: GET\r\n/i },
  { name: 'an HTTP/1.0 request', request: (p) => upgradeRequest(p).replace('HTTP/1.1', 'HTTP/1.0'), status: 400 },
  { name: 'a request without Host', request: (p) => upgradeRequest(p, { Host: '' }), status: 400 },
  { name: 'a request without Sec-WebSocket-Key', request: (p) => upgradeRequest(p, { 'Sec-WebSocket-Key': '' }), status: 400 },
  {
    name: 'a request without Sec-WebSocket-Version',
    request: (p) => upgradeRequest(p, { 'Sec-WebSocket-Version': '' }),
    status: 426,
    header: /\r\nSec-WebSocket-Version: 13\r\n/i,
  },
  { name: 'Upgrade: h2c', request: (p) => upgradeRequest(p, { Upgrade: 'h2c' }), status: 400 },
  { name: 'Connection without the Upgrade token (not an upgrade for HTTP)', request: (p) => upgradeRequest(p, { Connection: 'close' }), status: 426 },
  { name: 'Connection: keep-alive, UPGRADE (token lists, any case)', request: (p) => upgradeRequest(p, { Connection: 'keep-alive, UPGRADE' }), status: 101 },
  { name: 'Upgrade: WebSocket (any case)', request: (p) => upgradeRequest(p, { Upgrade: 'WebSocket' }), status: 101 },
];

for (const c of handshakeCases) {
  test(`answers ${c.status} to ${c.name}`, async (t) => {
    const { port } = await startServer(t);
    const head = await rawHead(port, c.request(port));
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${c.status} `));
    if (c.header !== undefined) assert.match(head, c.header);
  });
}

test('an upgrade whose header block passes maxHeaderSize is refused with 431 before any handshake work', async (t) => {
  const { port, url, wss } = await startServer(t, { maxHeaderSize: 2048 });
  let connections = 0;
  wss.on('connection', () => { connections++; });
  const big = await rawHttp(t, port, upgradeRequest(port, { 'X-Pad': 'a'.repeat(4000) }));
  assert.match(big, /^HTTP\/1\.1 431 /);
  assert.equal(connections, 0);
  const ws = new WebSocket(url, { headers: { 'x-pad': 'a'.repeat(1000) } });
  t.after(() => ws.terminate());
  await once(ws, 'open');
  assert.equal(connections, 1, 'a request within the bound still connects');
});
