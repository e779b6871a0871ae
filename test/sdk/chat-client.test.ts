import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/sdk/backoff.js';
import { ChatClient, type ChatClientOptions } from '../../src/sdk/chat-client.js';
import { ChatError } from '../../src/sdk/errors.js';
import type { ChatMessage, DmMessage } from '../../src/realtime/messages.js';
import { FakeClock, FakeWebSocket } from './fakes.js';

beforeEach(() => FakeWebSocket.reset());

const tick = () => new Promise((resolve) => setImmediate(resolve));
const alice = { id: 'dev:alice', name: 'alice' };
const bob = { id: 'dev:bob', name: 'bob' };

function make(overrides: Partial<ChatClientOptions> = {}) {
  const clock = new FakeClock();
  let n = 0;
  const client = new ChatClient({
    url: 'ws://test/ws',
    name: 'alice',
    WebSocket: FakeWebSocket,
    clock,
    environment: null,
    backoff: new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 }),
    createId: () => `m${++n}`,
    ...overrides,
  });
  const messages: ChatMessage[] = [];
  const dms: DmMessage[] = [];
  const errors: ChatError[] = [];
  client.on('message', (m) => messages.push(m));
  client.on('dm', (m) => dms.push(m));
  client.on('error', (e) => errors.push(e));
  return { client, clock, messages, dms, errors };
}

/** Opens the current fake socket and plays `welcome`. */
function welcome(epoch = 'e1', user = alice) {
  const ws = FakeWebSocket.last;
  ws.open();
  ws.receive({ type: 'welcome', connectionId: 'c', user, serverTime: 0, heartbeatMs: 25_000, epoch });
  return ws;
}

function chat(room: string, offset: number, text = `t${offset}`, id = `${room}#${offset}`): ChatMessage {
  return { type: 'chat', id, room, offset, from: bob, text, ts: 1, clientId: undefined } as unknown as ChatMessage;
}

function joined(room: string, offset: number, replay: { from: number; count: number; truncated?: boolean; epochChanged?: boolean }, epoch = 'e1') {
  return {
    type: 'joined',
    room,
    epoch,
    offset,
    members: [{ user: bob, connections: 1 }],
    replay: { truncated: false, epochChanged: false, ...replay },
  };
}

const sentOfType = (ws: FakeWebSocket, type: string) => ws.sentJson().filter((m) => m.type === type);

test('offers hayate.v1 and the token as subprotocols, and puts the dev name in the query', async () => {
  const { client } = make({ token: 'abc.def.ghi' });
  client.connect();
  await tick();
  assert.deepEqual(FakeWebSocket.last.protocols, ['hayate.v1', 'token.abc.def.ghi']);
  assert.equal(FakeWebSocket.last.url, 'ws://test/ws?name=alice');
  const q = make({ token: () => 'tok', tokenTransport: 'query' });
  q.client.connect();
  await tick();
  assert.equal(FakeWebSocket.last.url, 'ws://test/ws?name=alice&token=tok');
});

test('is open only after welcome, then joins its inbox for DM history', async () => {
  const { client } = make();
  client.connect();
  await tick();
  FakeWebSocket.last.open();
  assert.equal(client.state.kind, 'connecting');
  welcome();
  assert.equal(client.state.kind, 'open');
  assert.deepEqual(client.user, alice);
  assert.deepEqual(sentOfType(FakeWebSocket.last, 'join'), [{ type: 'join', id: 'm1', room: '@user:dev:alice', since: 0 }]);
});

test('join resolves on joined, loads history with since 0, and send resolves on the ack', async () => {
  const { client, messages } = make();
  client.connect();
  await tick();
  const ws = welcome();
  ws.receive(joined('@user:dev:alice', 0, { from: 1, count: 0 }));
  const joining = client.join('lobby');
  assert.deepEqual(sentOfType(ws, 'join').at(-1), { type: 'join', id: 'm2', room: 'lobby', since: 0 });
  ws.receive(joined('lobby', 2, { from: 1, count: 2 }));
  ws.receive(chat('lobby', 1));
  ws.receive(chat('lobby', 2));
  const event = await joining;
  assert.equal(event.room, 'lobby');
  assert.equal(event.resumed, false);
  assert.deepEqual(client.members('lobby'), [{ user: bob, connections: 1 }]);
  assert.deepEqual(messages.map((m) => m.offset), [1, 2]);

  const sending = client.send('lobby', 'hi');
  assert.deepEqual(sentOfType(ws, 'chat'), [{ type: 'chat', id: 'm3', room: 'lobby', text: 'hi' }]);
  assert.deepEqual(client.pending(), [{ kind: 'chat', id: 'm3', room: 'lobby', text: 'hi' }]);
  ws.receive({ type: 'ack', id: 'm3', ok: true, offset: 3 });
  assert.deepEqual(await sending, { id: 'm3', offset: 3, duplicate: false });
  assert.deepEqual(client.pending(), []);
});

test('messages sent while disconnected are sent after reconnecting, after the rooms are rejoined, each once', async () => {
  const { client, clock } = make();
  client.connect();
  await tick();
  let ws = welcome();
  const joining = client.join('lobby');
  ws.receive(joined('lobby', 0, { from: 1, count: 0 }));
  await joining;
  ws.serverClose(1006);
  const a = client.send('lobby', 'one');
  const b = client.send('lobby', 'two');
  assert.equal(client.pending().length, 2);
  clock.advance(1000);
  await tick();
  ws = welcome();
  // Rejoins first; the outbox waits for the joins to be answered.
  assert.deepEqual(ws.sentJson().map((m) => m.type), ['join', 'join']);
  ws.receive(joined('@user:dev:alice', 0, { from: 1, count: 0 }));
  assert.deepEqual(sentOfType(ws, 'chat'), []);
  ws.receive(joined('lobby', 0, { from: 1, count: 0 }));
  assert.deepEqual(sentOfType(ws, 'chat').map((m) => m.text), ['one', 'two']);
  // The link drops before the acks: the next connection sends both again, once.
  ws.serverClose(1006);
  clock.advance(1000);
  await tick();
  ws = welcome();
  ws.receive(joined('@user:dev:alice', 0, { from: 1, count: 0 }));
  ws.receive(joined('lobby', 2, { from: 1, count: 0 }));
  assert.deepEqual(sentOfType(ws, 'chat').map((m) => m.id), ['m3', 'm4']);
  ws.receive({ type: 'ack', id: 'm3', ok: true, offset: 1, duplicate: true });
  ws.receive({ type: 'ack', id: 'm4', ok: true, offset: 2, duplicate: true });
  assert.equal((await a).duplicate, true);
  assert.equal((await b).offset, 2);
  client.send('lobby', 'three');
  assert.deepEqual(sentOfType(ws, 'chat').map((m) => m.text), ['one', 'two', 'three']);
});

test('rejoins every room with since = the last offset seen and its epoch, and drops replayed duplicates', async () => {
  const { client, clock, messages } = make();
  client.connect();
  await tick();
  let ws = welcome();
  void client.join('lobby');
  ws.receive(joined('lobby', 3, { from: 1, count: 3 }));
  for (const o of [1, 2, 3]) ws.receive(chat('lobby', o));
  ws.receive(chat('lobby', 4));
  ws.serverClose(1001);
  clock.advance(1000);
  await tick();
  ws = welcome();
  const rejoin = sentOfType(ws, 'join').find((m) => m.room === 'lobby');
  assert.deepEqual(rejoin, { type: 'join', id: rejoin?.id, room: 'lobby', since: 4, epoch: 'e1' });
  const events: boolean[] = [];
  client.on('joined', (j) => events.push(j.resumed));
  ws.receive(joined('lobby', 6, { from: 5, count: 2 }));
  // A server that replays too much (or a live copy racing the replay) is filtered by offset and id.
  for (const o of [3, 4, 5, 5, 6]) ws.receive(chat('lobby', o));
  ws.receive(chat('lobby', 7));
  assert.deepEqual(messages.map((m) => m.offset), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(events, [true]);
  assert.equal(client.lastOffset('lobby'), 7);
});

test('an epoch change restarts the offsets, is surfaced to the app, and ids still filter duplicates', async () => {
  const { client, clock, messages } = make();
  client.connect();
  await tick();
  let ws = welcome();
  void client.join('lobby');
  ws.receive(joined('lobby', 9, { from: 10, count: 0 }));
  ws.receive(chat('lobby', 10, 'old', 'x10'));
  ws.serverClose(1012);
  clock.advance(1000);
  await tick();
  ws = welcome('e2');
  const seen: Array<{ epochChanged: boolean; truncated: boolean }> = [];
  client.on('joined', (j) => seen.push(j.replay));
  ws.receive(joined('lobby', 2, { from: 1, count: 2, epochChanged: true }, 'e2'));
  ws.receive(chat('lobby', 1, 'new1', 'y1'));
  ws.receive(chat('lobby', 2, 'new2', 'y2'));
  ws.receive(chat('lobby', 3, 'again', 'x10')); // an id already delivered
  assert.deepEqual(messages.map((m) => m.text), ['old', 'new1', 'new2']);
  assert.deepEqual(seen, [{ from: 1, count: 2, truncated: false, epochChanged: true }]);
  ws.serverClose(1006);
  clock.advance(1000);
  await tick();
  ws = welcome('e2');
  assert.deepEqual(sentOfType(ws, 'join').find((m) => m.room === 'lobby')?.epoch, 'e2');
  assert.deepEqual(sentOfType(ws, 'join').find((m) => m.room === 'lobby')?.since, 3);
});

test('DMs arrive through the inbox and the inbox is resumed from its last offset', async () => {
  const { client, clock, dms } = make();
  client.connect();
  await tick();
  let ws = welcome();
  ws.receive(joined('@user:dev:alice', 0, { from: 1, count: 0 }));
  const sending = client.dm('dev:bob', 'psst');
  assert.deepEqual(sentOfType(ws, 'dm'), [{ type: 'dm', id: 'm2', to: 'dev:bob', text: 'psst' }]);
  const dm = { type: 'dm', id: 's1', room: '@user:dev:alice', conversation: 'dm:dev:alice:dev:bob', offset: 1, from: alice, to: bob, text: 'psst', ts: 1, clientId: 'm2' };
  ws.receive(dm);
  ws.receive(dm);
  ws.receive({ type: 'ack', id: 'm2', ok: true, offset: 1 });
  assert.equal((await sending).offset, 1);
  assert.deepEqual(dms.map((d) => d.text), ['psst']);
  ws.serverClose(1006);
  clock.advance(1000);
  await tick();
  ws = welcome();
  assert.deepEqual(sentOfType(ws, 'join'), [{ type: 'join', id: 'm3', room: '@user:dev:alice', since: 1, epoch: 'e1' }]);
});

test('presence keeps the member list current', async () => {
  const { client } = make();
  client.connect();
  await tick();
  const ws = welcome();
  void client.join('lobby');
  ws.receive(joined('lobby', 0, { from: 1, count: 0 }));
  const lists: string[][] = [];
  client.on('members', ({ members }) => lists.push(members.map((m) => m.user.name)));
  ws.receive({ type: 'presence', room: 'lobby', event: 'join', user: { id: 'dev:carol', name: 'carol' }, connections: 1 });
  ws.receive({ type: 'presence', room: 'lobby', event: 'leave', user: bob, connections: 0 });
  assert.deepEqual(lists, [['bob', 'carol'], ['carol']]);
});

test('a refused message rejects its promise with the server code; a refused join rejects join', async () => {
  const { client } = make();
  client.connect();
  await tick();
  const ws = welcome();
  const j = client.join('lobby');
  ws.receive({ type: 'error', id: 'm2', code: 'forbidden', message: 'no' });
  await assert.rejects(j, (e: unknown) => e instanceof ChatError && e.code === 'forbidden');
  assert.deepEqual(client.rooms(), []);
  await assert.rejects(client.send('lobby', 'x'), (e: unknown) => e instanceof ChatError && e.code === 'not_in_room');
  const d = client.dm('dev:bob', 'x');
  ws.receive({ type: 'error', id: 'm3', code: 'invalid_message', message: 'bad' });
  await assert.rejects(d, (e: unknown) => e instanceof ChatError && e.code === 'invalid_message');
  await assert.rejects(client.dm('dev:bob', ''), (e: unknown) => e instanceof ChatError && e.code === 'invalid_message');
});

test('a rate-limited message stays pending and is sent again after retryAfterMs', async () => {
  const { client, clock } = make();
  client.connect();
  await tick();
  const ws = welcome();
  ws.receive(joined('@user:dev:alice', 0, { from: 1, count: 0 }));
  const d = client.dm('dev:bob', 'x');
  ws.receive({ type: 'error', id: 'm2', code: 'rate_limited', message: 'slow down', retryAfterMs: 300 });
  clock.advance(299);
  assert.equal(sentOfType(ws, 'dm').length, 1);
  clock.advance(1);
  assert.equal(sentOfType(ws, 'dm').length, 2);
  ws.receive({ type: 'ack', id: 'm2', ok: true, offset: 1 });
  assert.equal((await d).offset, 1);
});

test('a full outbox rejects the new message and reports it as an error event', async () => {
  const { client, errors } = make({ outbox: { maxCount: 1 } });
  const joining = client.join('lobby');
  const first = client.send('lobby', 'a');
  await assert.rejects(client.send('lobby', 'b'), (e: unknown) => e instanceof ChatError && e.code === 'outbox_full' && e.id === 'm2');
  assert.deepEqual(errors.map((e) => e.code), ['outbox_full']);
  assert.deepEqual(client.pending().map((p) => p.text), ['a']);
  client.disconnect();
  await assert.rejects(first, (e: unknown) => e instanceof ChatError && e.code === 'disconnected');
  await assert.rejects(joining, (e: unknown) => e instanceof ChatError && e.code === 'disconnected');
});

test('a stop close rejects pending messages with the reason and does not reconnect', async () => {
  const { client, clock } = make();
  client.connect();
  await tick();
  const ws = welcome();
  ws.receive(joined('@user:dev:alice', 0, { from: 1, count: 0 }));
  const d = client.dm('dev:bob', 'x');
  ws.serverClose(4003, 'banned');
  await assert.rejects(d, (e: unknown) => e instanceof ChatError && e.code === 'stopped' && /not allowed/.test(e.message));
  assert.equal(client.state.kind, 'closed');
  clock.advance(100_000);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1);
});

test('the dead-link bound follows the server heartbeatMs (twice it) and the probe is an app ping', async () => {
  const { client, clock } = make();
  client.connect();
  await tick();
  const ws = welcome(); // heartbeatMs 25 000
  clock.advance(49_999);
  assert.deepEqual(sentOfType(ws, 'ping'), []);
  clock.advance(1);
  assert.deepEqual(sentOfType(ws, 'ping'), [{ type: 'ping' }]);
  ws.receive({ type: 'pong', ts: 1 });
  assert.equal(client.state.kind, 'open');
  clock.advance(50_000 + 25_000);
  assert.equal(client.state.kind, 'reconnecting');
});

test('leave sends leave, resolves on left, and the room is not rejoined', async () => {
  const { client, clock } = make();
  client.connect();
  await tick();
  let ws = welcome();
  void client.join('lobby');
  ws.receive(joined('lobby', 0, { from: 1, count: 0 }));
  const leaving = client.leave('lobby');
  assert.deepEqual(sentOfType(ws, 'leave'), [{ type: 'leave', room: 'lobby' }]);
  ws.receive({ type: 'left', room: 'lobby' });
  await leaving;
  ws.serverClose(1006);
  clock.advance(1000);
  await tick();
  ws = welcome();
  assert.deepEqual(sentOfType(ws, 'join').map((m) => m.room), ['@user:dev:alice']);
});

test('a message accepted twice by a restarted server (same sender and client id, new server id) is shown once', async () => {
  const { client, messages } = make();
  client.connect();
  await tick();
  const ws = welcome();
  void client.join('lobby');
  ws.receive(joined('lobby', 0, { from: 1, count: 0 }));
  ws.receive({ ...chat('lobby', 1, 'hello', 's1'), clientId: 'bob-7' });
  ws.receive({ ...chat('lobby', 2, 'hello', 's2'), clientId: 'bob-7' });
  ws.receive({ ...chat('lobby', 3, 'hello', 's3'), clientId: 'bob-8' });
  assert.deepEqual(messages.map((m) => m.id), ['s1', 's3']);
  assert.equal(client.lastOffset('lobby'), 3);
});

test('with drop-oldest a full outbox rejects the oldest pending message and keeps the new one', async () => {
  const { client, errors } = make({ outbox: { maxCount: 2, overflow: 'drop-oldest' } });
  const joining = client.join('lobby');
  const first = client.send('lobby', 'a');
  void client.send('lobby', 'b').catch(() => {});
  void client.send('lobby', 'c').catch(() => {});
  await assert.rejects(first, (e: unknown) => e instanceof ChatError && e.code === 'outbox_full' && /dropped/.test(e.message));
  assert.deepEqual(client.pending().map((p) => p.text), ['b', 'c']);
  assert.deepEqual(errors.map((e) => e.id), ['m1']);
  client.disconnect();
  await assert.rejects(joining);
});
