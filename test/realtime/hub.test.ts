// Hub unit tests over fake sockets and the in-memory broker (real sockets are in test/cli/chat-server*.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type HubOptions } from '../../src/realtime/hub.js';
import { MemoryBroker } from '../../src/realtime/brokers/memory.js';
import type { Broker, HistoryPage } from '../../src/realtime/broker.js';
import { encodeBinaryEnvelope } from '../../src/realtime/binary-envelope.js';
import { FakeSocket, settle } from './fake-socket.js';

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };

function setup(t: { after(fn: () => unknown): void }, options: Partial<HubOptions> = {}) {
  let clock = 1_000_000;
  const broker = (options.broker as MemoryBroker | undefined) ?? new MemoryBroker({ historyLimit: 5, now: () => clock });
  const hub = new Hub({ broker, now: () => clock, sweepIntervalMs: 60_000, ...options });
  t.after(() => hub.close({ drainMs: 10 }));
  const connect = (user = alice, address = '127.0.0.1') => {
    const socket = new FakeSocket();
    hub.addConnection(socket, { user, address });
    return socket;
  };
  return { hub, broker, connect, advance: (ms: number) => { clock += ms; }, now: () => clock };
}

async function join(socket: FakeSocket, room: string, extra: Record<string, unknown> = {}) {
  socket.text({ type: 'join', room, ...extra });
  await settle();
}

test('sends welcome first with the connection id, user, heartbeat and epoch', (t) => {
  const { connect, broker } = setup(t, { heartbeatMs: 12_000 });
  const socket = connect();
  const [welcome] = socket.json();
  assert.equal(welcome.type, 'welcome');
  assert.deepEqual(welcome.user, alice);
  assert.equal(welcome.heartbeatMs, 12_000);
  assert.equal(welcome.epoch, broker.epoch);
  assert.equal(typeof welcome.connectionId, 'string');
  socket.text({ type: 'hello', id: 'h1' });
  assert.deepEqual(socket.json().slice(1).map((m) => m.type), ['welcome', 'ack']);
});

test('delivers a chat to every member of the room with offset, sender and client id, and acks the sender', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  const b = connect(bob);
  await join(a, 'lobby');
  await join(b, 'lobby');
  a.clear();
  b.clear();
  a.text({ type: 'chat', id: 'c1', room: 'lobby', text: 'hi' });
  await settle();
  const [got] = b.ofType('chat');
  assert.equal(got.text, 'hi');
  assert.equal(got.offset, 1);
  assert.equal(got.room, 'lobby');
  assert.deepEqual(got.from, alice);
  assert.equal(got.clientId, 'c1');
  assert.equal(typeof got.id, 'string');
  assert.equal(typeof got.ts, 'number');
  assert.equal(a.ofType('chat').length, 1, 'the sender receives its own message');
  assert.deepEqual(a.ofType('ack'), [{ type: 'ack', id: 'c1', ok: true, offset: 1 }]);
});

test('prepares a broadcast once and writes the same prepared value to every member', async (t) => {
  const calls: unknown[] = [];
  const prepare = (data: string | Uint8Array) => {
    const prepared = { prepared: data };
    calls.push(prepared);
    return prepared;
  };
  const { connect } = setup(t, { prepare });
  const sockets = [connect(alice), connect(bob), connect({ id: 'carol', name: 'Carol' })];
  for (const s of sockets) await join(s, 'lobby');
  calls.length = 0;
  sockets[0].text({ type: 'chat', room: 'lobby', text: 'once' });
  await settle();
  assert.equal(calls.length, 1);
  for (const s of sockets) assert.ok(s.sent.includes(calls[0]), 'every member got the one prepared value');
});

test('a join followed at once by a chat is processed in order', async (t) => {
  const { connect } = setup(t);
  const a = connect();
  a.text({ type: 'join', room: 'r' });
  a.text({ type: 'chat', id: 'x', room: 'r', text: 'first' });
  await settle();
  assert.deepEqual(a.ofType('error'), []);
  assert.equal(a.ofType('ack').length, 1);
});

test('delivers a DM to every connection of the target and of the sender, with offsets in each inbox', async (t) => {
  const { connect } = setup(t);
  const a1 = connect(alice);
  const a2 = connect(alice);
  const b1 = connect(bob);
  const b2 = connect(bob);
  const carol = connect({ id: 'carol', name: 'Carol' });
  await settle();
  a1.text({ type: 'dm', id: 'd1', to: 'bob', text: 'psst' });
  await settle();
  for (const s of [b1, b2]) {
    const [dm] = s.ofType('dm');
    assert.equal(dm.text, 'psst');
    assert.equal(dm.room, '@user:bob');
    assert.equal(dm.offset, 1);
    assert.equal(dm.conversation, 'dm:alice:bob');
    assert.deepEqual(dm.to, bob);
  }
  for (const s of [a1, a2]) {
    const [dm] = s.ofType('dm');
    assert.equal(dm.room, '@user:alice');
    assert.equal(dm.conversation, 'dm:alice:bob');
  }
  assert.equal(carol.ofType('dm').length, 0);
  assert.equal(a1.ofType('ack')[0].offset, 1);
});

test('an inbox is resumed like a room; joining another user\'s inbox is forbidden', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  const b = connect(bob);
  await settle();
  a.text({ type: 'dm', to: 'bob', text: 'one' });
  a.text({ type: 'dm', to: 'bob', text: 'two' });
  await settle();
  b.clear();
  await join(b, '@user:bob', { since: 1 });
  const [joined] = b.ofType('joined');
  assert.equal((joined.replay as { count: number }).count, 1);
  assert.deepEqual(b.ofType('dm').map((m) => m.text), ['two']);
  await join(a, '@user:bob');
  assert.equal(a.ofType('error').at(-1)?.code, 'forbidden');
});

test('presence: a user with two connections enters once and leaves when the last one closes', async (t) => {
  const { connect } = setup(t);
  const b = connect(bob);
  await join(b, 'room');
  const a1 = connect(alice);
  await join(a1, 'room');
  const a2 = connect(alice);
  await join(a2, 'room');
  const [joined] = a2.ofType('joined');
  const members = joined.members as Array<{ user: { id: string }; connections: number }>;
  assert.equal(members.find((m) => m.user.id === 'alice')?.connections, 2);
  assert.equal(members.find((m) => m.user.id === 'bob')?.connections, 1);
  const aboutAlice = () => b.ofType('presence').filter((p) => (p.user as { id: string }).id === 'alice');
  assert.deepEqual(aboutAlice().map((p) => [p.event, p.connections]), [['join', 1]]);
  a1.emit('close', 1000, Buffer.alloc(0));
  await settle();
  assert.equal(aboutAlice().length, 1, 'no leave while a second tab is open');
  a2.emit('close', 1001, Buffer.alloc(0));
  await settle();
  const last = aboutAlice().at(-1);
  assert.equal(last?.event, 'leave');
  assert.equal(last?.connections, 0);
});

test('join with since replays the history after that offset, then live messages', async (t) => {
  const { connect, broker } = setup(t);
  const a = connect(alice);
  await join(a, 'r');
  for (let i = 1; i <= 4; i++) a.text({ type: 'chat', room: 'r', text: `m${i}` });
  await settle();
  const b = connect(bob);
  await join(b, 'r', { since: 2, epoch: broker.epoch });
  const [joined] = b.ofType('joined');
  assert.equal(joined.offset, 4);
  assert.deepEqual(joined.replay, { from: 3, count: 2, truncated: false, epochChanged: false });
  a.text({ type: 'chat', room: 'r', text: 'm5' });
  await settle();
  assert.deepEqual(b.ofType('chat').map((m) => [m.offset, m.text]), [[3, 'm3'], [4, 'm4'], [5, 'm5']]);
});

test('join with since older than the retained history says truncated; without since nothing is replayed', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  await join(a, 'r');
  for (let i = 1; i <= 8; i++) a.text({ type: 'chat', room: 'r', text: `m${i}` });
  await settle();
  const b = connect(bob);
  await join(b, 'r', { since: 1 });
  assert.deepEqual(b.ofType('joined')[0].replay, { from: 4, count: 5, truncated: true, epochChanged: false });
  const c = connect({ id: 'carol', name: 'Carol' });
  await join(c, 'r');
  assert.deepEqual(c.ofType('joined')[0].replay, { from: 9, count: 0, truncated: false, epochChanged: false });
  assert.equal(c.ofType('chat').length, 0);
});

test('join with another epoch is answered epochChanged and replays the new epoch from the start', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  await join(a, 'r');
  a.text({ type: 'chat', room: 'r', text: 'new world' });
  await settle();
  const b = connect(bob);
  await join(b, 'r', { since: 40, epoch: 'old-epoch' });
  assert.deepEqual(b.ofType('joined')[0].replay, { from: 1, count: 1, truncated: false, epochChanged: true });
  assert.deepEqual(b.ofType('chat').map((m) => m.text), ['new world']);
  const c = connect({ id: 'carol', name: 'Carol' });
  await join(c, 'r', { since: 40 });
  assert.equal((c.ofType('joined')[0].replay as { epochChanged: boolean }).epochChanged, true, 'since beyond latest');
});

/** A broker whose history reads wait for a gate, so the test can publish while a replay is being served. */
class GatedBroker extends MemoryBroker {
  gate: Promise<void> = Promise.resolve();
  snapshotFirst = false;
  override async read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
    if (this.snapshotFirst) {
      const page = await super.read(room, options);
      await this.gate;
      return page;
    }
    await this.gate;
    return super.read(room, options);
  }
}

for (const snapshotFirst of [false, true]) {
  test(`replay while messages keep arriving has no gap and no duplicate (snapshot ${snapshotFirst ? 'before' : 'after'} the traffic)`, async (t) => {
    const broker = new GatedBroker({ historyLimit: 100 });
    broker.snapshotFirst = snapshotFirst;
    const { connect } = setup(t, { broker });
    const a = connect(alice);
    await join(a, 'r');
    for (let i = 1; i <= 5; i++) a.text({ type: 'chat', room: 'r', text: `m${i}` });
    await settle();
    let open!: () => void;
    broker.gate = new Promise((resolve) => { open = resolve; });
    const b = connect(bob);
    b.text({ type: 'join', room: 'r', since: 2, epoch: broker.epoch });
    await settle();
    for (let i = 6; i <= 9; i++) a.text({ type: 'chat', room: 'r', text: `m${i}` });
    await settle();
    open();
    await settle();
    a.text({ type: 'chat', room: 'r', text: 'm10' });
    await settle();
    assert.deepEqual(b.ofType('chat').map((m) => m.offset), [3, 4, 5, 6, 7, 8, 9, 10]);
    const types = b.json().map((m) => m.type).filter((x) => x === 'joined' || x === 'chat');
    assert.equal(types[0], 'joined', 'joined comes before any replayed or live message');
  });
}

test('invalid JSON, unknown types and schema violations get an error and the connection lives', async (t) => {
  const { connect } = setup(t);
  const a = connect();
  a.text('{nope');
  a.text('[1,2]');
  a.text({ type: 'teleport', id: 'q' });
  a.text({ type: 'chat', id: 'z', room: 'r' });
  a.text({ type: 'chat', id: 'y', room: 'r', text: 'not joined' });
  await settle();
  const errors = a.ofType('error');
  assert.deepEqual(errors.map((e) => e.code), ['invalid_json', 'invalid_json', 'unknown_type', 'invalid_message', 'not_in_room']);
  assert.equal(errors[2].id, 'q');
  assert.match(String(errors[3].message), /text/);
  assert.equal(a.closeCode, undefined);
  a.text({ type: 'ping', id: 'p' });
  assert.equal(a.ofType('pong')[0].id, 'p');
});

test('a connection that keeps sending garbage is closed with 1008', async (t) => {
  const { connect } = setup(t);
  const a = connect();
  for (let i = 0; i < 10; i++) a.text('garbage');
  assert.equal(a.closeCode, undefined, 'ten refused messages are tolerated');
  a.text('garbage');
  assert.equal(a.closeCode, 1008);
});

test('too large messages get too_large', (t) => {
  const { connect } = setup(t, { maxMessageBytes: 100 });
  const a = connect();
  a.text({ type: 'ping', pad: 'x'.repeat(200) });
  assert.equal(a.ofType('error')[0].code, 'too_large');
});

test('over the rate limit a message is refused with rate_limited and retryAfterMs; sustained abuse closes 1008', async (t) => {
  const { connect, advance } = setup(t, { connectionRate: { perSecond: 2, burst: 3 }, errorBudget: { perSecond: 1, burst: 3 } });
  const a = connect();
  for (let i = 0; i < 3; i++) a.text({ type: 'ping', id: `p${i}` });
  assert.equal(a.ofType('pong').length, 3);
  a.text({ type: 'ping', id: 'over' });
  const [limited] = a.ofType('error');
  assert.equal(limited.code, 'rate_limited');
  assert.equal(limited.id, 'over');
  assert.equal(limited.retryAfterMs, 500);
  advance(500);
  a.text({ type: 'ping', id: 'later' });
  assert.equal(a.ofType('pong').length, 4, 'accepted again after retryAfterMs');
  for (let i = 0; i < 4 && a.closeCode === undefined; i++) a.text({ type: 'ping' });
  assert.equal(a.closeCode, 1008);
});

test('the per-user rate limit is shared by all connections of the user', (t) => {
  const { connect } = setup(t, { userRate: { perSecond: 1, burst: 2 } });
  const a1 = connect(alice);
  const a2 = connect(alice);
  a1.text({ type: 'ping' });
  a2.text({ type: 'ping' });
  a2.text({ type: 'ping', id: 'third' });
  assert.equal(a2.ofType('error')[0].code, 'rate_limited');
});

test('a resent message id is acked again without being delivered again', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  const b = connect(bob);
  await join(a, 'r');
  await join(b, 'r');
  a.text({ type: 'chat', id: 'same', room: 'r', text: 'once' });
  await settle();
  const a2 = connect(alice);
  await join(a2, 'r');
  a2.text({ type: 'chat', id: 'same', room: 'r', text: 'once' });
  await settle();
  assert.equal(b.ofType('chat').length, 1);
  assert.deepEqual(a2.ofType('ack'), [{ type: 'ack', id: 'same', ok: true, offset: 1, duplicate: true }]);
});

test('a slow consumer is closed with 1013 after the grace period while others keep receiving', async (t) => {
  const { hub, connect, advance } = setup(t, { maxBufferedBytes: 1000, hardMaxBufferedBytes: 100_000, slowConsumerGraceMs: 2000 });
  const slow = connect(alice);
  const fast = connect(bob);
  await join(slow, 'r');
  await join(fast, 'r');
  slow.autoClose = false;
  slow.bufferedAmount = 5000;
  fast.text({ type: 'chat', room: 'r', text: 'a' });
  await settle();
  advance(1000);
  hub.sweep();
  assert.equal(slow.closeCode, undefined, 'still within the grace period');
  advance(1000);
  hub.sweep();
  assert.equal(slow.closeCode, 1013);
  fast.text({ type: 'chat', room: 'r', text: 'b' });
  await settle();
  assert.deepEqual(fast.ofType('chat').map((m) => m.text), ['a', 'b']);
  assert.deepEqual(slow.ofType('chat').map((m) => m.text), ['a'], 'nothing more is queued for a closing consumer');
  advance(10_000);
  hub.sweep();
  assert.equal(slow.terminated, true, 'terminated when it never completes the close');
});

test('a consumer past the hard bound is closed with 1013 at once', async (t) => {
  const { connect } = setup(t, { maxBufferedBytes: 1000, hardMaxBufferedBytes: 2000 });
  const slow = connect(alice);
  const other = connect(bob);
  await join(slow, 'r');
  await join(other, 'r');
  slow.bufferedAmount = 3000;
  other.text({ type: 'chat', room: 'r', text: 'x' });
  await settle();
  assert.equal(slow.closeCode, 1013);
});

test('a connection whose token expires is closed with 4001', (t) => {
  const { hub, advance, now } = setup(t);
  const socket = new FakeSocket();
  hub.addConnection(socket, { user: alice, expiresAt: now() + 1000 });
  hub.sweep();
  assert.equal(socket.closeCode, undefined);
  advance(1000);
  hub.sweep();
  assert.equal(socket.closeCode, 4001);
});

test('binary frames are forwarded as the same bytes to the room; bad envelopes get invalid_binary', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  const b = connect(bob);
  await join(a, 'r');
  await join(b, 'r');
  const frame = encodeBinaryEnvelope('r', 'blob', new Uint8Array([1, 2, 3]));
  a.binary(frame);
  const got = b.sent.find((d) => d instanceof Uint8Array);
  assert.deepEqual(Buffer.from(got as Uint8Array), Buffer.from(frame));
  a.binary(new Uint8Array([9, 9]));
  a.binary(encodeBinaryEnvelope('elsewhere', '', new Uint8Array(0)));
  assert.deepEqual(a.ofType('error').map((e) => e.code), ['invalid_binary', 'not_in_room']);
});

test('admission refuses more connections per user and per address than allowed', (t) => {
  const { hub, connect } = setup(t, { maxConnectionsPerUser: 2, maxConnectionsPerIp: 3 });
  connect(alice, '10.0.0.1');
  connect(alice, '10.0.0.1');
  assert.deepEqual(hub.admit('alice', '10.0.0.2'), { ok: false, status: 429, reason: 'too many connections for this user' });
  connect(bob, '10.0.0.1');
  assert.equal(hub.admit('carol', '10.0.0.1').ok, false);
  assert.equal(hub.admit('carol', '10.0.0.9').ok, true);
});

test('leave replies left, stops delivery, and emits presence leave', async (t) => {
  const { connect } = setup(t);
  const a = connect(alice);
  const b = connect(bob);
  await join(a, 'r');
  await join(b, 'r');
  b.text({ type: 'leave', id: 'l', room: 'r' });
  await settle();
  assert.deepEqual(b.ofType('left'), [{ type: 'left', room: 'r' }]);
  a.text({ type: 'chat', room: 'r', text: 'gone?' });
  await settle();
  assert.equal(b.ofType('chat').length, 0);
  assert.equal(a.ofType('presence').at(-1)?.event, 'leave');
  b.text({ type: 'leave', room: 'r' });
  await settle();
  assert.equal(b.ofType('error').at(-1)?.code, 'not_in_room');
});

test('close sends 1001 to every connection and resolves once they are closed', async (t) => {
  const { hub, connect } = setup(t);
  const sockets = [connect(alice), connect(bob)];
  await hub.close({ drainMs: 1000 });
  assert.deepEqual(sockets.map((s) => s.closeCode), [1001, 1001]);
  assert.equal(hub.connections, 0);
  assert.deepEqual(hub.admit('x'), { ok: false, status: 503, reason: 'server shutting down' });
});

test('a broker failure while storing a message is an internal_error, and the id can be resent', async (t) => {
  let fail = true;
  class FailingBroker extends MemoryBroker {
    override append(room: string, record: string) {
      return fail ? Promise.reject(new Error('down')) : super.append(room, record);
    }
  }
  const failing: Broker = new FailingBroker();
  const { connect } = setup(t, { broker: failing });
  const a = connect(alice);
  await join(a, 'r');
  a.text({ type: 'chat', id: 'm', room: 'r', text: 'x' });
  await settle();
  assert.equal(a.ofType('error')[0].code, 'internal_error');
  fail = false;
  a.text({ type: 'chat', id: 'm', room: 'r', text: 'x' });
  await settle();
  assert.deepEqual(a.ofType('ack'), [{ type: 'ack', id: 'm', ok: true, offset: 1 }]);
});

test('a big room lists at most maxMembersListed members and stops presence events past presenceEventsUpTo', async (t) => {
  const { connect } = setup(t, { maxMembersListed: 3, presenceEventsUpTo: 4 });
  const sockets: FakeSocket[] = [];
  for (let i = 0; i < 8; i++) {
    const s = connect({ id: `u${i}`, name: `U${i}` });
    sockets.push(s);
    await join(s, 'big');
  }
  const last = sockets[7].ofType('joined')[0];
  assert.equal((last.members as unknown[]).length, 3);
  assert.equal(last.memberCount, 8);
  const presenceAtFirst = sockets[0].ofType('presence').map((p) => (p.user as { id: string }).id);
  assert.deepEqual(presenceAtFirst, ['u0', 'u1', 'u2', 'u3'], 'join events only while the room has at most 4 members');
  sockets[7].emit('close', 1000, Buffer.alloc(0));
  await settle();
  assert.equal(sockets[0].ofType('presence').length, 4, 'no leave event in a big room');
});

test('filling a room lists the broker presence once per refresh interval, not once per join', async (t) => {
  let listings = 0;
  class CountingBroker extends MemoryBroker {
    override listPresence(room: string) {
      listings += 1;
      return super.listPresence(room);
    }
  }
  const { connect } = setup(t, { broker: new CountingBroker(), maxConnectionsPerIp: 1000 });
  const sockets = Array.from({ length: 300 }, (_, i) => connect({ id: `u${i}`, name: `U${i}` }));
  for (const s of sockets) s.text({ type: 'join', room: 'crowd' });
  await settle();
  assert.equal(sockets.filter((s) => s.ofType('joined').length === 1).length, 300);
  assert.equal(listings, 1, 'the clock did not move: one listing serves every join');
  assert.equal(sockets[299].ofType('joined')[0].memberCount, 300);
});

test('a message id resent to another node is acked as a duplicate and not delivered again', async (t) => {
  const broker = new MemoryBroker();
  const nodeA = new Hub({ broker, sweepIntervalMs: 60_000 });
  const nodeB = new Hub({ broker, sweepIntervalMs: 60_000 });
  t.after(() => Promise.all([nodeA.close({ drainMs: 10 }), nodeB.close({ drainMs: 10 })]));
  const onA = new FakeSocket();
  nodeA.addConnection(onA, { user: alice });
  const listener = new FakeSocket();
  nodeB.addConnection(listener, { user: bob });
  await join(onA, 'r');
  await join(listener, 'r');
  onA.text({ type: 'chat', id: 'once', room: 'r', text: 'hello' });
  await settle();
  const onB = new FakeSocket();
  nodeB.addConnection(onB, { user: alice });
  await join(onB, 'r');
  onB.text({ type: 'chat', id: 'once', room: 'r', text: 'hello' });
  await settle();
  assert.equal(listener.ofType('chat').length, 1);
  assert.deepEqual(onB.ofType('ack'), [{ type: 'ack', id: 'once', ok: true, offset: 1, duplicate: true }]);
});

test('a connection that queues more messages than maxBacklog behind a stalled broker is closed with 1008', async (t) => {
  class StalledBroker extends MemoryBroker {
    override append(): Promise<{ offset: number; epoch: string }> {
      return new Promise(() => {}); // the broker never answers: every chat stays pending
    }
  }
  const rate = { perSecond: 1000, burst: 1000 };
  const { connect } = setup(t, { broker: new StalledBroker({ historyLimit: 5 }), maxBacklog: 3, connectionRate: rate, userRate: rate });
  const socket = connect();
  await join(socket, 'r');
  for (let i = 0; i < 4; i++) socket.text({ type: 'chat', room: 'r', text: `m${i}` }); // one running, three queued
  await settle();
  assert.equal(socket.closeCode, undefined, 'a backlog at the bound is accepted');
  socket.text({ type: 'chat', room: 'r', text: 'one too many' });
  await settle();
  assert.equal(socket.closeCode, 1008);
  assert.match(String(socket.closeReason), /pending/);
});
