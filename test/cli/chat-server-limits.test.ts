// The chat server's protections over real sockets: invalid input, rate limits, slow consumers, origins, connection
// limits, binary routing, and the /metrics counters that follow them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import { clientAddress } from '../../src/cli/chat-server.js';
import { encodeBinaryEnvelope } from '../../src/realtime/binary-envelope.js';
import { connect, metric, startServer, token } from './helpers.js';

test('invalid JSON, unknown types and schema violations get an error and the connection lives', async (t) => {
  const { url } = await startServer(t);
  const client = await connect(t, url, { token: await token('alice') });
  client.send('{"type":');
  client.send({ type: 'warp', id: 'w' });
  client.send({ type: 'join', id: 'j', room: '' });
  client.send({ type: 'chat', id: 'c', room: 'nowhere', text: 'hello?' });
  await client.until((ms) => ms.filter((m) => m.type === 'error').length === 4);
  assert.deepEqual(client.ofType('error').map((e) => [e.code, e.id]), [
    ['invalid_json', undefined],
    ['unknown_type', 'w'],
    ['invalid_message', 'j'],
    ['not_in_room', 'c'],
  ]);
  assert.equal((await client.request({ type: 'ping' }, 'alive')).type, 'ack');
});

test('a client that keeps sending garbage is closed with 1008', async (t) => {
  const { url } = await startServer(t);
  const client = await connect(t, url, { token: await token('alice') });
  for (let i = 0; i < 30; i++) client.send('garbage');
  const { code } = await client.closed;
  assert.equal(code, 1008);
});

test('over the rate limit: rate_limited with retryAfterMs, then 1008 on sustained abuse', async (t) => {
  const { url, http } = await startServer(t, { limits: { connectionRate: { perSecond: 5, burst: 5 } } });
  const client = await connect(t, url, { token: await token('alice') });
  for (let i = 0; i < 6; i++) client.send({ type: 'ping', id: `p${i}` });
  const limited = await client.next('error');
  assert.equal(limited.code, 'rate_limited');
  assert.equal(limited.id, 'p5');
  assert.ok(typeof limited.retryAfterMs === 'number' && limited.retryAfterMs > 0 && limited.retryAfterMs <= 200);
  for (let i = 0; i < 50; i++) client.send({ type: 'ping' });
  assert.equal((await client.closed).code, 1008);
  const text = await (await fetch(`${http}/metrics`)).text();
  assert.ok(metric(text, 'hayate_rate_limited_total') >= 10);
  assert.equal(metric(text, 'hayate_policy_closes_total'), 1);
});

test('a client that stops reading is closed with 1013 while the others keep receiving', async (t) => {
  const { url, server } = await startServer(t, {
    // Bulk binary is sent uncompressed here: the ws client would queue hundreds of 60 KB compressions behind its
    // async zlib and stall the sender; compressed broadcasts are covered in chat-server-transport.test.ts.
    perMessageDeflate: false,
    limits: {
      maxBufferedBytes: 256 * 1024,
      hardMaxBufferedBytes: 64 * 1024 * 1024,
      slowConsumerGraceMs: 200,
      closeTimeoutMs: 10_000,
      connectionRate: { perSecond: 100_000, burst: 100_000 },
      userRate: { perSecond: 100_000, burst: 100_000 },
    },
  });
  const sender = await connect(t, url, { token: await token('sender') });
  const reader = await connect(t, url, { token: await token('reader') });
  const slow = await connect(t, url, { token: await token('slow') });
  for (const c of [sender, reader, slow]) await c.request({ type: 'join', room: 'r' }, 'j');
  const socket = (slow.ws as unknown as { _socket: NetSocket })._socket;
  socket.pause();
  const frame = encodeBinaryEnvelope('r', 'bulk', new Uint8Array(60_000));
  const slowDisconnects = async () => metric(await server.registry.metrics(), 'hayate_slow_consumer_disconnects_total');
  let sent = 0;
  for (; sent < 2000 && (await slowDisconnects()) === 0; sent++) {
    sender.ws.send(frame);
    if (sent % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
    // The sender waits for the reader (at most 4 frames, 240 KB, behind: under maxBufferedBytes), so only the client
    // that stopped reading can fall behind, however loaded the machine is.
    while (reader.binaries.length < sent - 4) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.equal(await slowDisconnects(), 1, 'the slow consumer was disconnected');
  // The reader got every frame and keeps receiving after the slow one is gone.
  await sender.request({ type: 'chat', room: 'r', text: 'after' }, 'after');
  await reader.next('chat', (m) => m.text === 'after', 10_000);
  assert.equal(reader.binaries.length, sent);
  socket.resume();
  assert.equal((await slow.closed).code, 1013);
});

test('an origin outside the allowed list gets 403; an allowed one connects', async (t) => {
  const { url, http } = await startServer(t, { allowedOrigins: ['https://chat.example'] });
  const tok = await token('alice');
  await assert.rejects(connect(t, url, { token: tok, headers: { origin: 'https://evil.example' } }), (e: { status?: number }) => e.status === 403);
  const ok = await connect(t, url, { token: tok, headers: { origin: 'https://chat.example' } });
  assert.equal(ok.ofType('welcome').length, 1);
  const text = await (await fetch(`${http}/metrics`)).text();
  assert.equal(metric(text, 'hayate_handshake_rejections_total', '{status="403"}'), 1);
});

test('more connections per user than allowed get 429', async (t) => {
  const { url } = await startServer(t, { limits: { maxConnectionsPerUser: 2 } });
  const tok = await token('alice');
  await connect(t, url, { token: tok });
  await connect(t, url, { token: tok });
  await assert.rejects(connect(t, url, { token: tok }), (e: { status?: number }) => e.status === 429);
  await connect(t, url, { token: await token('bob') });
});

test('binary frames are delivered to the room as the same bytes', async (t) => {
  const { url } = await startServer(t);
  const a = await connect(t, url, { token: await token('alice') });
  const b = await connect(t, url, { token: await token('bob') });
  await a.request({ type: 'join', room: 'files' }, 'j');
  await b.request({ type: 'join', room: 'files' }, 'j');
  const frame = encodeBinaryEnvelope('files', 'image/png', new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
  a.ws.send(frame);
  await b.until(() => b.binaries.length === 1);
  assert.deepEqual(b.binaries[0], Buffer.from(frame));
});

test('/metrics counts connections, messages, bytes, errors and handshake rejections as traffic flows', async (t) => {
  const { url, http } = await startServer(t);
  const read = async () => (await fetch(`${http}/metrics`)).text();
  const before = await read();
  assert.equal(metric(before, 'hayate_connections'), 0);
  const a = await connect(t, url, { token: await token('alice') });
  const b = await connect(t, url, { token: await token('bob') });
  await a.request({ type: 'join', room: 'r' }, 'j');
  await b.request({ type: 'join', room: 'r' }, 'j');
  await a.request({ type: 'chat', room: 'r', text: 'counted' }, 'c');
  a.send('nonsense');
  await a.next('error');
  await assert.rejects(connect(t, url), (e: { status?: number }) => e.status === 401);
  // A refusal by the transport's own handshake rules (not the auth hook) is counted too.
  const oldVersion = await new Promise<number | undefined>((resolve, reject) => {
    const headers = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '8', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    const request = httpRequest(`${http}/ws`, { headers }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode);
    });
    request.on('error', reject);
    request.end();
  });
  assert.equal(oldVersion, 426);
  const after = await read();
  assert.equal(metric(after, 'hayate_connections'), 2);
  assert.equal(metric(after, 'hayate_connections_total'), 2);
  assert.equal(metric(after, 'hayate_messages_in_total', '{kind="text"}'), 4);
  assert.ok(metric(after, 'hayate_bytes_in_total') > 50);
  assert.ok(metric(after, 'hayate_messages_out_total') >= 10);
  assert.ok(metric(after, 'hayate_bytes_out_total') > metric(before, 'hayate_bytes_out_total'));
  assert.equal(metric(after, 'hayate_errors_total', '{code="invalid_json"}'), 1);
  assert.equal(metric(after, 'hayate_handshake_rejections_total', '{status="401"}'), 1);
  assert.equal(metric(after, 'hayate_handshake_rejections_total', '{status="426"}'), 1);
  await b.close();
  await a.request({ type: 'ping' }, 'sync');
  assert.equal(metric(await read(), 'hayate_connections'), 1);
});

test('the per-IP limit counts the X-Forwarded-For address only when the proxy is trusted', async (t) => {
  const limits = { maxConnectionsPerIp: 1 };
  const trusting = await startServer(t, { limits, trustProxy: 1 });
  await connect(t, trusting.url, { token: await token('a'), headers: { 'x-forwarded-for': '203.0.113.1' } });
  await connect(t, trusting.url, { token: await token('b'), headers: { 'x-forwarded-for': '203.0.113.2' } });
  await assert.rejects(
    connect(t, trusting.url, { token: await token('c'), headers: { 'x-forwarded-for': '198.51.100.9, 203.0.113.1' } }),
    (e: { status?: number }) => e.status === 429,
    'the entry the trusted proxy appended counts, not the spoofable ones left of it',
  );

  const ignoring = await startServer(t, { limits });
  await connect(t, ignoring.url, { token: await token('a'), headers: { 'x-forwarded-for': '203.0.113.1' } });
  await assert.rejects(
    connect(t, ignoring.url, { token: await token('b'), headers: { 'x-forwarded-for': '203.0.113.2' } }),
    (e: { status?: number }) => e.status === 429,
    'without trustProxy a client cannot dodge the limit with a forged header',
  );
});

test('clientAddress picks the address the outermost trusted proxy saw', () => {
  const request = (xff?: string) => ({ headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as IncomingMessage;
  assert.equal(clientAddress(request('1.1.1.1'), '10.0.0.1', 0), '10.0.0.1');
  assert.equal(clientAddress(request('1.1.1.1, 2.2.2.2'), '10.0.0.1', 1), '2.2.2.2');
  assert.equal(clientAddress(request('1.1.1.1, 2.2.2.2'), '10.0.0.1', 2), '1.1.1.1');
  assert.equal(clientAddress(request('2.2.2.2'), '10.0.0.1', 3), '2.2.2.2');
  assert.equal(clientAddress(request(), '10.0.0.1', 1), '10.0.0.1');
});
