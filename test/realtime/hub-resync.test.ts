// The hub's delivery guarantees when Pub/Sub loses or reorders payloads, and idempotent appends: every member sees
// every message of a room once, in offset order, without reconnecting (docs/brokers.md, "What a short outage costs").
// First over the in-memory broker with a payload dropped, delayed or a reply lost on purpose, then two hubs on two
// RedisBrokers over the real Redis (test/helpers/redis.ts) with the subscriber connection killed (CLIENT KILL).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Hub, type HubOptions } from '../../src/realtime/hub.js';
import { MemoryBroker } from '../../src/realtime/brokers/memory.js';
import { RedisBroker } from '../../src/realtime/brokers/redis.js';
import type { AppendOptions, AppendResult, Broker, HistoryPage } from '../../src/realtime/broker.js';
import { offsetOf } from '../../src/realtime/history.js';
import { requireRedis } from '../helpers/redis.js';
import { FakeSocket, settle } from './fake-socket.js';

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
const FAST = { perSecond: 10_000, burst: 10_000 };

function hubOver(t: TestContext, broker: Broker, options: Partial<HubOptions> = {}): Hub {
  const hub = new Hub({ broker, sweepIntervalMs: 60_000, connectionRate: FAST, userRate: FAST, resyncGraceMs: 5, ...options });
  t.after(() => hub.close({ drainMs: 10 }));
  return hub;
}

function connect(hub: Hub, user = alice): FakeSocket {
  const socket = new FakeSocket();
  hub.addConnection(socket, { user, address: '127.0.0.1' });
  return socket;
}

async function join(socket: FakeSocket, room: string): Promise<void> {
  socket.text({ type: 'join', id: `join-${room}`, room });
  await until(() => socket.ofType('ack').some((a) => a.id === `join-${room}`), `the join of ${room}`);
}

/** aliceAndBobInRoom makes a hub over `broker` with Alice and Bob both members of room r. */
async function aliceAndBobInRoom(t: TestContext, broker: Broker, options: Partial<HubOptions> = {}): Promise<{ a: FakeSocket; b: FakeSocket }> {
  const hub = hubOver(t, broker, options);
  const a = connect(hub, alice);
  const b = connect(hub, bob);
  await join(a, 'r');
  await join(b, 'r');
  return { a, b };
}

async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

/** The offsets of the chat messages `socket` received, in arrival order. */
function chatOffsets(socket: FakeSocket): number[] {
  return socket.ofType('chat').map((m) => m.offset as number);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A MemoryBroker that loses or delays chosen live payloads (by offset), as Pub/Sub does across an outage. */
class UnreliableBroker extends MemoryBroker {
  readonly lose = new Set<number>();
  readonly delay = new Map<number, number>();
  reads = 0;

  override publish(channel: string, data: string | Uint8Array): Promise<void> {
    const offset = typeof data === 'string' ? offsetOf(data) : undefined;
    if (offset !== undefined && this.lose.has(offset)) return Promise.resolve();
    const ms = offset === undefined ? undefined : this.delay.get(offset);
    if (ms !== undefined) {
      setTimeout(() => void super.publish(channel, data), ms);
      return Promise.resolve();
    }
    return super.publish(channel, data);
  }

  override read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
    this.reads += 1;
    return super.read(room, options);
  }
}

/** An UnreliableBroker whose first append runs but loses its reply, as when the connection drops right after it. */
class ReplyLostBroker extends UnreliableBroker {
  loseReply = true;

  override async append(room: string, record: string, options?: AppendOptions): Promise<AppendResult> {
    const result = await super.append(room, record, options);
    if (this.loseReply) {
      this.loseReply = false;
      throw new Error('connection lost after the append ran');
    }
    return result;
  }
}

test('a live payload lost on the way: the next message shows the gap and the member gets both, in order', async (t) => {
  const broker = new UnreliableBroker();
  const counted = { started: 0, abandoned: 0 };
  const { a, b } = await aliceAndBobInRoom(t, broker, { observer: { resyncStarted: () => counted.started++, resyncAbandoned: () => counted.abandoned++ } });
  assert.equal(counted.started, 0, 'no resync without a gap');
  broker.lose.add(2);
  for (let i = 1; i <= 3; i++) a.text({ type: 'chat', id: `c${i}`, room: 'r', text: `m${i}` });
  await until(() => chatOffsets(b).length >= 3, 'three messages at bob');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(chatOffsets(b), [1, 2, 3]);
  assert.deepEqual(b.ofType('chat').map((m) => m.text), ['m1', 'm2', 'm3']);
  assert.deepEqual(chatOffsets(a), [1, 2, 3], 'the sender too');
  assert.equal(b.closeCode, undefined, 'without reconnecting');
  assert.ok(counted.started >= 1, 'the observer saw the resync');
  assert.equal(counted.abandoned, 0);
});

test('crossed publishes (a later offset arrives first) are delivered in offset order, without a history read', async (t) => {
  const broker = new UnreliableBroker();
  const { a, b } = await aliceAndBobInRoom(t, broker, { resyncGraceMs: 100 });
  const readsBefore = broker.reads;
  broker.delay.set(1, 20);
  a.text({ type: 'chat', id: 'c1', room: 'r', text: 'first' });
  b.text({ type: 'chat', id: 'c2', room: 'r', text: 'second' });
  await until(() => chatOffsets(b).length >= 2, 'two messages at bob');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(chatOffsets(b), [1, 2]);
  assert.deepEqual(chatOffsets(a), [1, 2]);
  assert.equal(broker.reads, readsBefore, 'the held message filled the gap within the grace period');
});

/**
 * Alice and Bob in room r of a hub over a ReplyLostBroker; Alice sends `text` as m1, gets internal_error (the append
 * ran, its reply was lost) and resends it.
 */
async function lostReplyThenResend(t: TestContext, text: string) {
  const broker = new ReplyLostBroker();
  const { a, b } = await aliceAndBobInRoom(t, broker);
  a.text({ type: 'chat', id: 'm1', room: 'r', text });
  await until(() => a.ofType('error').length > 0, 'the internal_error');
  assert.equal(a.ofType('error')[0].code, 'internal_error');
  a.text({ type: 'chat', id: 'm1', room: 'r', text });
  return { broker, a, b };
}

test('an append whose reply was lost: the resend stores nothing, is acked as a duplicate with the first offset', async (t) => {
  const { broker, a, b } = await lostReplyThenResend(t, 'once');
  await until(() => a.ofType('ack').some((m) => m.id === 'm1'), 'the ack of the resend');
  assert.deepEqual(a.ofType('ack').find((m) => m.id === 'm1'), { type: 'ack', id: 'm1', ok: true, offset: 1, duplicate: true });
  assert.deepEqual((await broker.read('r', { after: 0, limit: 10 })).entries.map((e) => e.offset), [1], 'stored once');
  // The first append was never published; the room's next message shows the gap and the resync delivers it.
  a.text({ type: 'chat', id: 'm2', room: 'r', text: 'next' });
  await until(() => chatOffsets(b).length >= 2, 'both messages at bob');
  assert.deepEqual(b.ofType('chat').map((m) => [m.offset, m.text]), [[1, 'once'], [2, 'next']]);
});

test('an append whose reply was lost, in a room where nothing follows: the resend publishes the stored message, once', async (t) => {
  const { a, b } = await lostReplyThenResend(t, 'quiet');
  await until(() => chatOffsets(b).length >= 1, 'the message at bob without a next one');
  assert.deepEqual(b.ofType('chat').map((m) => [m.offset, m.text]), [[1, 'quiet']]);
  // A second resend (its ack lost, say) publishes it again: every member still has it once.
  a.text({ type: 'chat', id: 'm1', room: 'r', text: 'quiet' });
  await until(() => a.ofType('ack').filter((m) => m.id === 'm1').length >= 2, 'the second ack');
  a.text({ type: 'chat', id: 'm2', room: 'r', text: 'after' });
  await until(() => chatOffsets(b).length >= 2, 'the next message');
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(chatOffsets(b), [1, 2]);
  assert.deepEqual(chatOffsets(a), [1, 2]);
});

test('a DM whose first append reply was lost: the resend stores only the missing copy', async (t) => {
  const broker = new ReplyLostBroker();
  const hub = hubOver(t, broker);
  const a = connect(hub, alice);
  connect(hub, bob);
  await settle();
  a.text({ type: 'dm', id: 'd1', to: 'bob', text: 'psst' });
  await until(() => a.ofType('error').length > 0, 'the internal_error');
  a.text({ type: 'dm', id: 'd1', to: 'bob', text: 'psst' });
  await until(() => a.ofType('ack').some((m) => m.id === 'd1'), 'the ack of the resend');
  assert.deepEqual((await broker.read('@user:bob', { after: 0, limit: 10 })).entries.length, 1, 'one copy for bob');
  assert.deepEqual((await broker.read('@user:alice', { after: 0, limit: 10 })).entries.length, 1, 'one copy for alice');
});

test('history reads that fail for a while (the command connection still down) are retried; nobody is closed', async (t) => {
  class FlakyReadBroker extends UnreliableBroker {
    failures = 0;
    override read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
      if (this.failures > 0) {
        this.failures -= 1;
        return Promise.reject(new Error('Connection is closed.'));
      }
      return super.read(room, options);
    }
  }
  const broker = new FlakyReadBroker();
  const { a, b } = await aliceAndBobInRoom(t, broker);
  broker.lose.add(1);
  broker.failures = 2;
  for (let i = 1; i <= 3; i++) a.text({ type: 'chat', id: `c${i}`, room: 'r', text: `m${i}` });
  await until(() => chatOffsets(b).length >= 3, 'three messages at bob');
  assert.deepEqual(chatOffsets(b), [1, 2, 3]);
  assert.equal(broker.failures, 0, 'the failing reads were made');
  assert.equal(b.closeCode, undefined);
});

test('a broker resync after a reconnect re-reads every room, at most 16 history reads at a time', async (t) => {
  class ResyncingBroker extends UnreliableBroker {
    listener: ((info: { epochChanged: boolean }) => void) | null = null;
    counting = false;
    inFlight = 0;
    peak = 0;
    done = 0;
    onResync(listener: (info: { epochChanged: boolean }) => void): () => void {
      this.listener = listener;
      return () => {
        this.listener = null;
      };
    }
    override async read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
      if (!this.counting) return super.read(room, options);
      this.inFlight += 1;
      this.peak = Math.max(this.peak, this.inFlight);
      await new Promise((resolve) => setTimeout(resolve, 10));
      this.inFlight -= 1;
      this.done += 1;
      return super.read(room, options);
    }
  }
  const broker = new ResyncingBroker();
  const hub = hubOver(t, broker);
  const rooms = Array.from({ length: 40 }, (_, i) => `room-${i}`);
  const a = connect(hub, alice);
  for (const room of rooms) await join(a, room);
  broker.counting = true;
  (broker.listener as (info: { epochChanged: boolean }) => void)({ epochChanged: false });
  // alice's inbox is a room with a local member too.
  await until(() => broker.done >= rooms.length, 'every room re-read');
  assert.ok(broker.peak <= 16, `at most 16 reads at once (peak ${broker.peak})`);
  assert.ok(broker.peak >= 2, 'reads run in parallel up to the limit');
  assert.equal(a.closeCode, undefined);
});

test('too many live messages held while history cannot be read: the room\'s members are closed with 1012 to resume', async (t) => {
  class StuckReadBroker extends UnreliableBroker {
    stuck = false;
    override read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
      return this.stuck ? new Promise(() => {}) : super.read(room, options);
    }
  }
  const broker = new StuckReadBroker();
  let abandoned = 0;
  const { a, b } = await aliceAndBobInRoom(t, broker, { maxHeldPerRoom: 3, observer: { resyncAbandoned: () => abandoned++ } });
  broker.lose.add(1);
  broker.stuck = true;
  for (let i = 1; i <= 6; i++) a.text({ type: 'chat', id: `c${i}`, room: 'r', text: `m${i}` });
  await until(() => b.closeCode !== undefined, 'bob to be closed');
  assert.equal(b.closeCode, 1012);
  assert.deepEqual(chatOffsets(b), [], 'nothing out of order was delivered');
  assert.equal(abandoned, 1, 'the observer saw the resync given up');
});

// ---- two hubs on two RedisBrokers -------------------------------------------------------------------------------

const DELETE_PREFIX = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1";

/** A Broker that forwards to `broker` except for the methods in `overrides`. */
function wrap(broker: Broker, overrides: Partial<Broker>): Broker {
  return new Proxy(broker, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return (overrides as Record<string | symbol, unknown>)[property];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function redisNodes(t: TestContext) {
  const url = await requireRedis(t);
  if (url === null) return null;
  const id = randomBytes(4).toString('hex');
  const prefix = `hayate-test:${id}:`;
  const brokers = await Promise.all([0, 1].map((i) => RedisBroker.connect({ url, prefix, clientName: `hayate-resync-${id}-${i}` })));
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  t.after(async () => {
    for (const broker of brokers) await broker.close();
    await admin.eval(DELETE_PREFIX, 0, `${prefix}*`);
    admin.disconnect();
  });
  /** Kills node `i`'s subscriber connection (CLIENT KILL ID) and resolves to how many were killed. */
  const killSubscriber = async (i: number): Promise<number> => {
    const lines = String(await admin.client('LIST')).split('\n').filter((line) => line.includes(` name=hayate-resync-${id}-${i}-sub`));
    for (const line of lines) await admin.client('KILL', 'ID', String(/id=(\d+)/.exec(line)?.[1]));
    return lines.length;
  };
  /** Deletes every key of this test (the epoch included), as a Redis that lost its data. */
  const flush = async (): Promise<void> => {
    await admin.eval(DELETE_PREFIX, 0, `${prefix}*`);
  };
  return { brokers, killSubscriber, flush };
}

/** A hub on each broker; Alice (writer) on the first and Bob (reader) on the second, both in room r. */
async function writerAndReader(t: TestContext, brokers: Broker[]) {
  const writer = connect(hubOver(t, brokers[0]), alice);
  const reader = connect(hubOver(t, brokers[1]), bob);
  await join(writer, 'r');
  await join(reader, 'r');
  return { writer, reader };
}

test('Redis: node B\'s subscriber killed while node A publishes: B\'s member gets every message once, in order, staying connected', async (t) => {
  const nodes = await redisNodes(t);
  if (nodes === null) return;
  const { writer, reader } = await writerAndReader(t, nodes.brokers);
  const total = 60;
  let killed = 0;
  for (let i = 1; i <= total; i++) {
    writer.text({ type: 'chat', id: `c${i}`, room: 'r', text: `m${i}` });
    await until(() => writer.ofType('ack').some((m) => m.id === `c${i}`), `the ack of c${i}`);
    if (i === 10) killed = await nodes.killSubscriber(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(killed, 1, 'node B\'s subscriber connection was killed');
  await until(() => chatOffsets(reader).length >= total, `${total} messages at the reader`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(chatOffsets(reader), range(1, total));
  assert.equal(reader.closeCode, undefined, 'the reader stayed connected');
});

test('Redis: crossed publishes of two nodes arrive in offset order without duplicates on both nodes', async (t) => {
  const nodes = await redisNodes(t);
  if (nodes === null) return;
  // Node A's publishes of odd offsets are late, so node B's next message overtakes each of them.
  const [brokerA, brokerB] = nodes.brokers;
  const slowA = wrap(brokerA, {
    publish: (channel, data) => {
      const offset = typeof data === 'string' ? offsetOf(data) : undefined;
      if (offset === undefined || offset % 2 === 0) return brokerA.publish(channel, data);
      // Resolved at once (the sender is acked), published 30 ms later: node B's next append overtakes it.
      setTimeout(() => void brokerA.publish(channel, data).catch(() => undefined), 30);
      return Promise.resolve();
    },
  });
  const hubA = hubOver(t, slowA, { resyncGraceMs: 20 });
  const hubB = hubOver(t, brokerB, { resyncGraceMs: 20 });
  const a = connect(hubA, alice);
  const b = connect(hubB, bob);
  await join(a, 'r');
  await join(b, 'r');
  const rounds = 10;
  for (let i = 1; i <= rounds; i++) {
    a.text({ type: 'chat', id: `a${i}`, room: 'r', text: `a${i}` });
    await until(() => a.ofType('ack').some((m) => m.id === `a${i}`), `the ack of a${i}`);
    b.text({ type: 'chat', id: `b${i}`, room: 'r', text: `b${i}` });
    await until(() => b.ofType('ack').some((m) => m.id === `b${i}`), `the ack of b${i}`);
  }
  await until(() => chatOffsets(a).length >= 2 * rounds && chatOffsets(b).length >= 2 * rounds, 'every message on both nodes');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(chatOffsets(a), range(1, 2 * rounds));
  assert.deepEqual(chatOffsets(b), range(1, 2 * rounds));
});

test('Redis: an append whose reply was lost, resent through the other node, is stored once and acked as a duplicate', async (t) => {
  const nodes = await redisNodes(t);
  if (nodes === null) return;
  const [brokerA, brokerB] = nodes.brokers;
  let loseReply = true;
  const lossyA = wrap(brokerA, {
    append: async (room: string, record: string, options?: AppendOptions) => {
      const result = await brokerA.append(room, record, options);
      if (loseReply) {
        loseReply = false;
        throw new Error('Connection is closed.');
      }
      return result;
    },
  });
  const hubA = hubOver(t, lossyA);
  const hubB = hubOver(t, brokerB);
  const first = connect(hubA, alice);
  await join(first, 'r');
  first.text({ type: 'chat', id: 'm1', room: 'r', text: 'once' });
  await until(() => first.ofType('error').length > 0, 'the internal_error');
  assert.equal(first.ofType('error')[0].code, 'internal_error');
  const again = connect(hubB, alice);
  await join(again, 'r');
  again.text({ type: 'chat', id: 'm1', room: 'r', text: 'once' });
  await until(() => again.ofType('ack').some((m) => m.id === 'm1'), 'the ack of the resend');
  assert.deepEqual(again.ofType('ack').find((m) => m.id === 'm1'), { type: 'ack', id: 'm1', ok: true, offset: 1, duplicate: true });
  const page = await brokerB.read('r', { after: 0, limit: 10 });
  assert.deepEqual([page.latest, page.entries.length], [1, 1], 'stored once');
});

test('Redis: after Redis lost its data (a new epoch), the new epoch\'s messages are delivered, not taken for old ones', async (t) => {
  // A guard rather than a gap: offsets restart at 1 in the new epoch, below the room's last delivered offset.
  const nodes = await redisNodes(t);
  if (nodes === null) return;
  const { writer, reader } = await writerAndReader(t, nodes.brokers);
  for (let i = 1; i <= 3; i++) writer.text({ type: 'chat', id: `old${i}`, room: 'r', text: `old${i}` });
  await until(() => chatOffsets(reader).length >= 3, 'the old epoch\'s messages');
  const oldEpoch = nodes.brokers[1].epoch;
  await nodes.flush();
  writer.text({ type: 'chat', id: 'new1', room: 'r', text: 'new1' });
  await until(() => reader.ofType('chat').some((m) => m.text === 'new1'), 'the new epoch\'s first message');
  assert.deepEqual(reader.ofType('chat').map((m) => [m.offset, m.text]), [[1, 'old1'], [2, 'old2'], [3, 'old3'], [1, 'new1']]);
  assert.notEqual(nodes.brokers[1].epoch, oldEpoch, 'node B noticed the new epoch');
  writer.text({ type: 'chat', id: 'new2', room: 'r', text: 'new2' });
  await until(() => reader.ofType('chat').some((m) => m.text === 'new2'), 'the next one');
  assert.deepEqual(chatOffsets(reader).slice(3), [1, 2]);
});
