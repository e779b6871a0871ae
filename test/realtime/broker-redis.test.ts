// The Redis broker against a real Redis (test/helpers/redis.ts): its RESP client, and every Broker method, with two
// brokers standing for two nodes. Each test uses its own key prefix and deletes its keys afterwards.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requireRedis } from '../helpers/redis.js';
import { RedisBroker } from '../../src/realtime/brokers/redis.js';
import { RedisConnection, RespParser, encodeCommand, RedisError } from '../../src/realtime/brokers/redis-connection.js';

async function brokers(t: TestContext, count: number, options: { historyLimit?: number; now?: () => number } = {}) {
  const url = await requireRedis(t);
  if (url === null) return null;
  const prefix = `hayate-test:${randomBytes(4).toString('hex')}:`;
  const list = await Promise.all(Array.from({ length: count }, () => RedisBroker.connect({ url, prefix, ...options })));
  t.after(async () => {
    for (const b of list) await b.close();
    const admin = await RedisConnection.open(url);
    await admin.command(['EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1", 0, `${prefix}*`]);
    admin.close();
  });
  return { list, url, prefix };
}

test('the RESP parser decodes every reply type whatever the chunking', () => {
  const bytes = Buffer.from('+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n');
  for (let split = 1; split < bytes.length; split++) {
    const parser = new RespParser();
    const replies = [...parser.push(bytes.subarray(0, split)), ...parser.push(bytes.subarray(split))];
    assert.equal(replies.length, 6, `split at ${split}`);
    assert.equal(replies[0], 'OK');
    assert.ok(replies[1] instanceof RedisError);
    assert.equal(replies[2], 42);
    assert.deepEqual(replies[3], Buffer.from('he\r\no'));
    assert.equal(replies[4], null);
    assert.deepEqual(replies[5], [Buffer.from('a'), [7]]);
  }
  assert.equal(encodeCommand(['GET', 'k']).toString(), '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
});

test('a message published on one node reaches subscribers on both, text and binary', async (t) => {
  const setup = await brokers(t, 2);
  if (setup === null) return;
  const [a, b] = setup.list;
  const got: Array<[string, unknown]> = [];
  await a.subscribe('room:x', (d) => got.push(['a', d]));
  const sub = await b.subscribe('room:x', (d) => got.push(['b', d]));
  await b.publish('room:x', 'hello ✓');
  await a.publish('room:x', new Uint8Array([0, 1, 2]));
  await a.publish('room:x', 'sync');
  while (got.length < 6) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(got.filter(([who]) => who === 'b').map(([, d]) => d), ['hello ✓', Buffer.from([0, 1, 2]), 'sync']);
  assert.deepEqual(got.filter(([who]) => who === 'a').map(([, d]) => d), ['hello ✓', Buffer.from([0, 1, 2]), 'sync']);
  await sub.unsubscribe();
  await a.publish('room:x', 'after');
  while (got.length < 7) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(got.slice(6), [['a', 'after']]);
});

test('history: offsets shared by nodes, the last N kept, reads after an offset', async (t) => {
  const setup = await brokers(t, 2, { historyLimit: 3 });
  if (setup === null) return;
  const [a, b] = setup.list;
  assert.equal(a.epoch, b.epoch, 'nodes share the epoch');
  assert.deepEqual(await a.read('r', { after: 0, limit: 10 }), { epoch: a.epoch, latest: 0, first: 1, entries: [] });
  const offsets = [];
  for (let i = 1; i <= 5; i++) offsets.push((await (i % 2 === 0 ? a : b).append('r', `{"n":${i}}`)).offset);
  assert.deepEqual(offsets, [1, 2, 3, 4, 5]);
  const page = await b.read('r', { after: 0, limit: 10 });
  assert.deepEqual([page.latest, page.first], [5, 3]);
  assert.deepEqual(page.entries, [{ offset: 3, record: '{"n":3}' }, { offset: 4, record: '{"n":4}' }, { offset: 5, record: '{"n":5}' }]);
  assert.deepEqual((await a.read('r', { after: 4, limit: 10 })).entries.map((e) => e.offset), [5]);
  assert.deepEqual((await a.read('r', { after: Number.MAX_SAFE_INTEGER, limit: 0 })).entries, []);
});

test('a Redis that lost its data gets a new epoch and offsets start again', async (t) => {
  const setup = await brokers(t, 1);
  if (setup === null) return;
  const [a] = setup.list;
  await a.append('r', '{}');
  const before = a.epoch;
  const admin = await RedisConnection.open(setup.url);
  await admin.command(['EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1", 0, `${setup.prefix}*`]);
  admin.close();
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

test('losing a Redis connection is reported once through onConnectionLost', async (t) => {
  const url = await requireRedis(t);
  if (url === null) return;
  const name = `hayate-test-${randomBytes(4).toString('hex')}`;
  const lost: Error[] = [];
  const broker = await RedisBroker.connect({ url, prefix: `${name}:`, clientName: name, onConnectionLost: (e) => lost.push(e) });
  t.after(() => broker.close());
  const admin = await RedisConnection.open(url);
  t.after(() => admin.close());
  const list = String(await admin.command(['CLIENT', 'LIST']));
  const ids = list.split('\n').filter((line) => line.includes(` name=${name}`)).map((line) => /id=(\d+)/.exec(line)?.[1]);
  assert.equal(ids.length, 2, 'a command and a subscriber connection, named');
  for (const id of ids) await admin.command(['CLIENT', 'KILL', 'ID', String(id)]);
  while (lost.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(lost.length, 1);
  await assert.rejects(broker.append('r', '{}'));
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
