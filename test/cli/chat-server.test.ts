// The chat server over real sockets (our WebSocketServer, `ws` as the client): rooms, DMs, presence, history, auth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/realtime/brokers/memory.js';
import { createChatServer } from '../../src/cli/chat-server.js';
import { connect, startServer, token, SECRET } from './helpers.js';

test('two users in a room receive each other\'s messages in order with offsets', async (t) => {
  const { url } = await startServer(t);
  const alice = await connect(t, url, { token: await token('alice', { name: 'Alice' }) });
  const bob = await connect(t, url, { token: await token('bob', { name: 'Bob' }) });
  assert.equal((await alice.request({ type: 'join', room: 'lobby' }, 'j1')).type, 'ack');
  assert.equal((await bob.request({ type: 'join', room: 'lobby' }, 'j2')).type, 'ack');
  const ack = await alice.request({ type: 'chat', room: 'lobby', text: 'hi bob' }, 'c1');
  assert.equal(ack.offset, 1);
  await bob.request({ type: 'chat', room: 'lobby', text: 'hi alice' }, 'c2');
  await alice.until((ms) => ms.filter((m) => m.type === 'chat').length === 2);
  await bob.until((ms) => ms.filter((m) => m.type === 'chat').length === 2);
  for (const client of [alice, bob]) {
    assert.deepEqual(client.ofType('chat').map((m) => [m.offset, (m.from as { name: string }).name, m.text]), [
      [1, 'Alice', 'hi bob'],
      [2, 'Bob', 'hi alice'],
    ]);
  }
});

test('a DM reaches every connection of the target and of the sender, and nobody else', async (t) => {
  const { url } = await startServer(t);
  const [a1, a2, b1, b2, carol] = await Promise.all([
    connect(t, url, { token: await token('alice') }),
    connect(t, url, { token: await token('alice') }),
    connect(t, url, { token: await token('bob') }),
    connect(t, url, { token: await token('bob') }),
    connect(t, url, { token: await token('carol') }),
  ]);
  const ack = await a1.request({ type: 'dm', to: 'bob', text: 'secret' }, 'd1');
  assert.equal(ack.type, 'ack');
  for (const c of [a1, a2, b1, b2]) {
    const dm = await c.next('dm');
    assert.equal(dm.text, 'secret');
    assert.equal(dm.conversation, 'dm:alice:bob');
    assert.equal((dm.from as { id: string }).id, 'alice');
  }
  assert.equal((await b1.next('dm')).room, '@user:bob');
  assert.equal((await a2.next('dm')).room, '@user:alice');
  await carol.request({ type: 'ping' }, 'p');
  assert.equal(carol.ofType('dm').length, 0);
});

test('presence with two tabs: the user leaves only when the last tab closes', async (t) => {
  const { url } = await startServer(t);
  const watcher = await connect(t, url, { token: await token('watcher') });
  await watcher.request({ type: 'join', room: 'r' }, 'j');
  const tab1 = await connect(t, url, { token: await token('alice', { name: 'Alice' }) });
  const tab2 = await connect(t, url, { token: await token('alice', { name: 'Alice' }) });
  await tab1.request({ type: 'join', room: 'r' }, 'j1');
  await tab2.request({ type: 'join', room: 'r' }, 'j2');
  const joined = tab2.ofType('joined')[0];
  assert.deepEqual(
    (joined.members as Array<{ user: { id: string }; connections: number }>).map((m) => [m.user.id, m.connections]).sort(),
    [['alice', 2], ['watcher', 1]],
  );
  const aboutAlice = () => watcher.ofType('presence').filter((p) => (p.user as { id: string }).id === 'alice');
  await watcher.until(() => aboutAlice().length === 1);
  assert.equal(aboutAlice()[0].event, 'join');
  await tab1.close();
  await watcher.request({ type: 'ping' }, 'sync1');
  assert.equal(aboutAlice().length, 1, 'one tab left: no leave event');
  await tab2.close();
  await watcher.until(() => aboutAlice().length === 2);
  assert.deepEqual([aboutAlice()[1].event, aboutAlice()[1].connections], ['leave', 0]);
});

test('join with since replays every message after it, while messages keep arriving, with no gap or duplicate', async (t) => {
  const { url } = await startServer(t, { limits: { connectionRate: { perSecond: 10_000, burst: 10_000 }, userRate: { perSecond: 10_000, burst: 10_000 } } });
  const writer = await connect(t, url, { token: await token('writer') });
  await writer.request({ type: 'join', room: 'busy' }, 'j');
  for (let i = 1; i <= 50; i++) writer.send({ type: 'chat', room: 'busy', text: `m${i}` });
  await writer.until((ms) => ms.filter((m) => m.type === 'chat').length === 50);
  const reader = await connect(t, url, { token: await token('reader') });
  // Keep writing while the reader joins and its replay is served.
  let n = 50;
  const pump = setInterval(() => {
    for (let i = 0; i < 5 && n < 300; i++) writer.send({ type: 'chat', room: 'busy', text: `m${++n}` });
    if (n >= 300) clearInterval(pump);
  }, 1);
  t.after(() => clearInterval(pump));
  reader.send({ type: 'join', room: 'busy', since: 20, epoch: writer.ofType('welcome')[0].epoch });
  await reader.until((ms) => ms.some((m) => m.type === 'chat' && m.offset === 300), 10_000, 'offset 300');
  const offsets = reader.ofType('chat').map((m) => m.offset);
  assert.deepEqual(offsets, Array.from({ length: 280 }, (_, i) => 21 + i));
  const joined = reader.ofType('joined')[0];
  assert.equal((joined.replay as { from: number }).from, 21);
  assert.equal(reader.messages.findIndex((m) => m.type === 'joined') < reader.messages.findIndex((m) => m.type === 'chat'), true);
});

test('join with since older than the history reports truncated', async (t) => {
  const { url } = await startServer(t, { historyLimit: 10 });
  const a = await connect(t, url, { token: await token('alice') });
  await a.request({ type: 'join', room: 'r' }, 'j');
  for (let i = 1; i <= 15; i++) await a.request({ type: 'chat', room: 'r', text: `m${i}` }, `c${i}`);
  const b = await connect(t, url, { token: await token('bob') });
  await b.request({ type: 'join', room: 'r', since: 2 }, 'jb');
  const joined = b.ofType('joined')[0];
  assert.deepEqual(joined.replay, { from: 6, count: 10, truncated: true, epochChanged: false });
  assert.deepEqual(b.ofType('chat').map((m) => m.offset), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});

test('after a restart the epoch changes and a resume against the old epoch is answered epochChanged', async (t) => {
  const first = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0 });
  const { port } = await first.listen();
  const a = await connect(t, `ws://127.0.0.1:${port}/ws`, { token: await token('alice') });
  const oldEpoch = a.ofType('welcome')[0].epoch as string;
  await a.request({ type: 'join', room: 'r' }, 'j');
  for (let i = 1; i <= 3; i++) await a.request({ type: 'chat', room: 'r', text: `old${i}` }, `c${i}`);
  const closed = a.closed;
  await first.close();
  assert.equal((await closed).code, 1001);

  const second = createChatServer({ port, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0 });
  await second.listen();
  t.after(() => second.close());
  const b = await connect(t, `ws://127.0.0.1:${port}/ws`, { token: await token('alice') });
  assert.notEqual(b.ofType('welcome')[0].epoch, oldEpoch);
  await b.request({ type: 'join', room: 'r' }, 'j0');
  await b.request({ type: 'chat', room: 'r', text: 'new1' }, 'n1');
  await b.request({ type: 'join', room: 'r', since: 3, epoch: oldEpoch }, 'j1');
  const resumed = b.ofType('joined')[1];
  assert.deepEqual(resumed.replay, { from: 1, count: 1, truncated: false, epochChanged: true });
});

test('a broker handed in survives a server restart: same epoch, resume continues', async (t) => {
  const broker = new MemoryBroker();
  const first = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0, broker });
  const { port } = await first.listen();
  const a = await connect(t, `ws://127.0.0.1:${port}/ws`, { token: await token('alice') });
  await a.request({ type: 'join', room: 'r' }, 'j');
  await a.request({ type: 'chat', room: 'r', text: 'before' }, 'c1');
  await first.close();
  const second = createChatServer({ port, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0, broker });
  await second.listen();
  t.after(() => second.close());
  const b = await connect(t, `ws://127.0.0.1:${port}/ws`, { token: await token('alice') });
  await b.request({ type: 'join', room: 'r', since: 0, epoch: broker.epoch }, 'j');
  assert.deepEqual(b.ofType('chat').map((m) => m.text), ['before']);
  assert.equal((b.ofType('joined')[0].replay as { epochChanged: boolean }).epochChanged, false);
});

test('missing, malformed, wrongly signed and expired tokens get HTTP 401 and no WebSocket', async (t) => {
  const { url, server } = await startServer(t);
  const cases: Array<[string, Parameters<typeof connect>[2]]> = [
    ['missing', {}],
    ['malformed header', { headers: { authorization: 'Basic abc' } }],
    ['wrong secret', { token: await token('eve', { secret: 'another-secret-another-secret-1234' }) }],
    ['expired', { token: await token('eve', { seconds: -3600 }) }],
    ['garbage', { token: 'not.a.jwt', via: 'query' }],
    ['token protocol without hayate.v1', { protocols: [`token.${await token('eve')}`] }],
  ];
  for (const [name, options] of cases) {
    await assert.rejects(connect(t, url, options), (error: { status?: number }) => error.status === 401, name);
  }
  assert.equal(server.hub.connections, 0);
});

test('a token is accepted from the Authorization header, the subprotocol and the query string', async (t) => {
  const { url } = await startServer(t);
  for (const via of ['header', 'protocol', 'query'] as const) {
    const client = await connect(t, url, { token: await token(`user-${via}`, { name: via }), via });
    assert.deepEqual(client.ofType('welcome')[0].user, { id: `user-${via}`, name: via });
    if (via === 'protocol') assert.equal(client.ws.protocol, 'hayate.v1', 'the server answers hayate.v1, never the token');
    await client.close();
  }
});

test('dev mode admits anonymous users named by ?name= and still rejects bad tokens', async (t) => {
  const { url } = await startServer(t, { auth: { dev: true } });
  const named = await connect(t, url, { query: '?name=Kit' });
  assert.deepEqual(named.ofType('welcome')[0].user, { id: 'dev:Kit', name: 'Kit' });
  const anonymous = await connect(t, url);
  assert.match((anonymous.ofType('welcome')[0].user as { name: string }).name, /^guest-[0-9a-f]{4}$/);
  await assert.rejects(connect(t, url, { token: 'bad', via: 'query' }), (e: { status?: number }) => e.status === 401);
});

test('a connection whose token expires is closed with 4001', async (t) => {
  const { url } = await startServer(t);
  const client = await connect(t, url, { token: await token('alice', { seconds: 1 }) });
  const { code } = await client.closed;
  assert.equal(code, 4001);
});
