// The Redis broker (ioredis) against a real Redis (test/helpers/redis.ts): every Broker method with two brokers
// standing for two nodes, and what happens when Redis connections are killed or Redis becomes unreachable. Each test
// uses its own key prefix and connection names, and deletes its keys afterwards.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { requireRedis } from '../helpers/redis.js';
import { RedisBroker, type RedisBrokerOptions } from '../../src/realtime/brokers/redis.js';

const DELETE_PREFIX = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1";

/** An admin connection for the test (the caller disconnects it). */
function admin(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

async function brokers(t: TestContext, count: number, options: Omit<RedisBrokerOptions, 'url' | 'prefix'> = {}) {
  const url = await requireRedis(t);
  if (url === null) return null;
  const id = randomBytes(4).toString('hex');
  const prefix = `hayate-test:${id}:`;
  const list = await Promise.all(Array.from({ length: count }, (_, i) => RedisBroker.connect({ url, prefix, clientName: `hayate-test-${id}-${i}`, ...options })));
  const redis = admin(url);
  t.after(async () => {
    for (const b of list) await b.close();
    await redis.eval(DELETE_PREFIX, 0, `${prefix}*`);
    redis.disconnect();
  });
  return { list, url, prefix, id, admin: redis };
}

/** Kills every Redis connection whose name starts with `name` (CLIENT KILL ID); resolves to how many. */
async function killConnections(redis: Redis, name: string): Promise<number> {
  const list = String(await redis.client('LIST'));
  const ids = list.split('\n').filter((line) => line.includes(` name=${name}`)).map((line) => /id=(\d+)/.exec(line)?.[1]);
  for (const id of ids) await redis.client('KILL', 'ID', String(id));
  return ids.length;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

test('a message published on one node reaches subscribers on both, text and binary', async (t) => {
  const setup = await brokers(t, 2);
  if (setup === null) return;
  const [a, b] = setup.list;
  const got: Array<[string, unknown]> = [];
  await a.subscribe('room:x', (d) => got.push(['a', d]));
  const sub = await b.subscribe('room:x', (d) => got.push(['b', d]));
  await b.publish('room:x', 'hello ✓');
  await a.publish('room:x', new Uint8Array([0, 1, 2, 0xff, 0x74]));
  await a.publish('room:x', 'sync');
  await until(() => got.length >= 6, 'six deliveries');
  assert.deepEqual(got.filter(([who]) => who === 'b').map(([, d]) => d), ['hello ✓', Buffer.from([0, 1, 2, 0xff, 0x74]), 'sync']);
  assert.deepEqual(got.filter(([who]) => who === 'a').map(([, d]) => d), ['hello ✓', Buffer.from([0, 1, 2, 0xff, 0x74]), 'sync']);
  await sub.unsubscribe();
  await a.publish('room:x', 'after');
  await until(() => got.length >= 7, 'the seventh delivery');
  assert.deepEqual(got.slice(6), [['a', 'after']]);
});

test('history: offsets shared by nodes, the last N kept, reads after an offset', async (t) => {
  const setup = await brokers(t, 2, { historyLimit: 3 });
  if (setup === null) return;
  const [a, b] = setup.list;
  assert.equal(a.epoch, b.epoch, 'nodes share the epoch');
  assert.deepEqual(await a.read('r', { after: 0, limit: 10 }), { epoch: a.epoch, latest: 0, first: 1, entries: [] });
  const offsets = [];
  for (let i = 1; i <= 5; i++) offsets.push((await (i % 2 === 0 ? a : b).append('r', `{"n":${i},"t":"✓"}`)).offset);
  assert.deepEqual(offsets, [1, 2, 3, 4, 5]);
  const page = await b.read('r', { after: 0, limit: 10 });
  assert.deepEqual([page.latest, page.first], [5, 3]);
  assert.deepEqual(page.entries, [
    { offset: 3, record: '{"n":3,"t":"✓"}' }, { offset: 4, record: '{"n":4,"t":"✓"}' }, { offset: 5, record: '{"n":5,"t":"✓"}' },
  ]);
  assert.deepEqual((await a.read('r', { after: 4, limit: 10 })).entries.map((e) => e.offset), [5]);
  assert.deepEqual((await a.read('r', { after: 3, limit: 1 })).entries.map((e) => e.offset), [4]);
  assert.deepEqual((await a.read('r', { after: Number.MAX_SAFE_INTEGER, limit: 0 })).entries, []);
});

test('a Redis that lost its data gets a new epoch and offsets start again', async (t) => {
  const setup = await brokers(t, 1);
  if (setup === null) return;
  const [a] = setup.list;
  await a.append('r', '{}');
  const before = a.epoch;
  await setup.admin.eval(DELETE_PREFIX, 0, `${setup.prefix}*`);
  const { offset, epoch } = await a.append('r', '{}');
  assert.equal(offset, 1);
  assert.notEqual(epoch, before);
  assert.equal(a.epoch, epoch);
});

test('presence records are shared by nodes and expire unless refreshed', async (t) => {
  let now = 1_000_000;
  const setup = await brokers(t, 2, { now: () => now });
  if (setup === null) return;
  const [a, b] = setup.list;
  await a.setPresence('r', 'c1', '{"id":"u1"}', 1000);
  await b.setPresence('r', 'c2', '{"id":"u2"}', 1000);
  assert.deepEqual((await b.listPresence('r')).map((r) => r.key).sort(), ['c1', 'c2']);
  now += 900;
  await a.setPresence('r', 'c1', '{"id":"u1"}', 1000);
  now += 500;
  assert.deepEqual(await b.listPresence('r'), [{ key: 'c1', value: '{"id":"u1"}' }]);
  await a.deletePresence('r', 'c1');
  assert.deepEqual(await a.listPresence('r'), []);
});

test('remember is shared by nodes: the first value wins until replaced or forgotten', async (t) => {
  const setup = await brokers(t, 2);
  if (setup === null) return;
  const [a, b] = setup.list;
  assert.equal(await a.remember('seen:u:1', '', 60_000), null);
  assert.equal(await b.remember('seen:u:1', '', 60_000), '');
  await a.remember('seen:u:1', '7', 60_000, { replace: true });
  assert.equal(await b.remember('seen:u:1', '', 60_000), '7');
  await b.forget('seen:u:1');
  assert.equal(await a.remember('seen:u:1', '', 60_000), null);
});

test('append with a dedup key is idempotent across nodes: a repeated key stores nothing and answers the first offset', async (t) => {
  const setup = await brokers(t, 2);
  if (setup === null) return;
  const [a, b] = setup.list;
  const dedup = { dedupKey: 'seen:u:m1', ttlMs: 60_000 };
  assert.deepEqual(await a.append('r', '{"n":1}', dedup), { offset: 1, epoch: a.epoch });
  assert.deepEqual(await b.append('r', '{"n":1}', dedup), { offset: 1, epoch: a.epoch, duplicate: true });
  assert.deepEqual(await b.append('r', '{"n":2}', { dedupKey: 'seen:u:m2', ttlMs: 60_000 }), { offset: 2, epoch: a.epoch });
  assert.equal((await a.append('r', '{"n":3}')).offset, 3);
  assert.deepEqual((await b.read('r', { after: 0, limit: 10 })).entries.map((e) => e.record), ['{"n":1}', '{"n":2}', '{"n":3}']);
  assert.equal(await a.remember('seen:u:m1', '', 60_000), '1', 'the claim is a remember key holding the offset');
  const ttl = await setup.admin.pttl(`${setup.prefix}remember:seen:u:m1`);
  assert.ok(ttl > 0 && ttl <= 60_000, `the claim expires (${ttl} ms left)`);
});

test('onResync listeners hear of every reconnect until they unregister', async (t) => {
  const setup = await brokers(t, 1);
  if (setup === null) return;
  const [a] = setup.list;
  const heard: boolean[] = [];
  const stop = a.onResync((info) => heard.push(info.epochChanged));
  assert.equal(await killConnections(setup.admin, `hayate-test-${setup.id}-0-sub`), 1);
  await until(() => heard.length > 0, 'the resync signal');
  assert.deepEqual(heard, [false]);
  stop();
  assert.equal(await killConnections(setup.admin, `hayate-test-${setup.id}-0-sub`), 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(heard, [false], 'not called after unregistering');
});

test('killed Redis connections reconnect and re-subscribe: messages published after the recovery reach the other node', async (t) => {
  const reconnected: boolean[] = [];
  const lost: Error[] = [];
  const setup = await brokers(t, 2, { onReconnected: ({ epochChanged }) => reconnected.push(epochChanged), onConnectionLost: (e) => lost.push(e) });
  if (setup === null) return;
  const [a, b] = setup.list;
  const got: unknown[] = [];
  await a.subscribe('room:x', (d) => got.push(d));
  assert.equal(await killConnections(setup.admin, `hayate-test-${setup.id}-0`), 2, 'node a has a command and a subscriber connection, named');
  await until(() => reconnected.length > 0, 'node a to reconnect');
  assert.equal(reconnected[0], false, 'the data survived, so the epoch did not change');
  await b.publish('room:x', 'after recovery');
  await a.publish('room:x', new Uint8Array([1, 2]));
  await until(() => got.length >= 2, 'both messages');
  assert.deepEqual(got, ['after recovery', Buffer.from([1, 2])]);
  assert.equal((await a.append('r', '{}')).offset, 1, 'commands work again');
  assert.deepEqual(lost, [], 'a short outage is not reported as lost');
});

test('only the subscriber killed (CLIENT KILL ID of the pubsub connection): live delivery resumes', async (t) => {
  const reconnected: boolean[] = [];
  const setup = await brokers(t, 2, { onReconnected: ({ epochChanged }) => reconnected.push(epochChanged) });
  if (setup === null) return;
  const [a, b] = setup.list;
  const got: unknown[] = [];
  await b.subscribe('room:y', (d) => got.push(d));
  assert.equal(await killConnections(setup.admin, `hayate-test-${setup.id}-1-sub`), 1);
  await until(() => reconnected.length > 0, 'node b to reconnect');
  await a.publish('room:y', 'still here');
  await until(() => got.length >= 1, 'the message');
  assert.deepEqual(got, ['still here']);
});

test('an epoch lost while the connection was down is re-read on reconnect, before any history call', async (t) => {
  const reconnected: boolean[] = [];
  const setup = await brokers(t, 1, { onReconnected: ({ epochChanged }) => reconnected.push(epochChanged) });
  if (setup === null) return;
  const [a] = setup.list;
  const before = a.epoch;
  await setup.admin.eval(DELETE_PREFIX, 0, `${setup.prefix}*`);
  await killConnections(setup.admin, `hayate-test-${setup.id}-0`);
  await until(() => reconnected.length > 0, 'the reconnect');
  assert.equal(reconnected[0], true);
  assert.notEqual(a.epoch, before);
  assert.equal(await setup.admin.get(`${setup.prefix}epoch`), a.epoch);
});

/** A TCP proxy to Redis that the test can cut: `cut()` closes the listener and every proxied connection. */
async function proxy(t: TestContext, url: string): Promise<{ url: string; cut: () => Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cut = (): Promise<void> => new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
  t.after(() => (server.listening ? cut() : undefined));
  return { url: `redis://127.0.0.1:${port}`, cut };
}

test('while Redis is unreachable commands fail fast, and after reconnectGiveUpMs onConnectionLost is called once', async (t) => {
  const url = await requireRedis(t);
  if (url === null) return;
  const link = await proxy(t, url);
  const lost: Error[] = [];
  const prefix = `hayate-test:${randomBytes(4).toString('hex')}:`;
  const broker = await RedisBroker.connect({ url: link.url, prefix, reconnectGiveUpMs: 300, onConnectionLost: (e) => lost.push(e) });
  t.after(async () => {
    await broker.close();
    const redis = admin(url);
    await redis.eval(DELETE_PREFIX, 0, `${prefix}*`);
    redis.disconnect();
  });
  assert.equal((await broker.append('r', '{}')).offset, 1);
  await link.cut();
  await assert.rejects(broker.append('r', '{}'), 'a command while disconnected fails instead of queueing');
  await assert.rejects(broker.publish('room:r', 'x'));
  await until(() => lost.length > 0, 'the broker to give up');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(lost.length, 1);
  await assert.rejects(broker.read('r', { after: 0, limit: 1 }), 'a broker that gave up stays down');
});
