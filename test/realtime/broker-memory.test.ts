// The in-memory broker and the ring-buffer history behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/realtime/brokers/memory.js';
import { RoomHistory } from '../../src/realtime/history.js';

test('history keeps the last N records with monotonic offsets', () => {
  const h = new RoomHistory(3);
  assert.deepEqual([h.latest, h.first], [0, 1]);
  for (let i = 1; i <= 5; i++) assert.equal(h.append(`r${i}`), i);
  assert.deepEqual([h.latest, h.first], [5, 3]);
  assert.deepEqual(h.read(0, 10).map((e) => [e.offset, e.record]), [[3, 'r3'], [4, 'r4'], [5, 'r5']]);
  assert.deepEqual(h.read(3, 1).map((e) => e.offset), [4]);
  assert.deepEqual(h.read(5, 10), []);
  const none = new RoomHistory(0);
  none.append('x');
  assert.deepEqual([none.latest, none.first, none.read(0, 10).length], [1, 2, 0]);
});

test('publish reaches every subscriber of the channel in order, and stops after unsubscribe', async () => {
  const broker = new MemoryBroker();
  const got: unknown[] = [];
  const sub = await broker.subscribe('c', (d) => got.push(d));
  await broker.subscribe('other', () => got.push('wrong'));
  await broker.publish('c', 'a');
  await broker.publish('c', new Uint8Array([1]));
  await sub.unsubscribe();
  await broker.publish('c', 'after');
  assert.deepEqual(got, ['a', new Uint8Array([1])]);
});

test('append and read history by offset within the broker epoch', async () => {
  const broker = new MemoryBroker({ historyLimit: 2, epoch: 'e1' });
  assert.deepEqual(await broker.read('r', { after: 0, limit: 10 }), { epoch: 'e1', latest: 0, first: 1, entries: [] });
  assert.deepEqual(await broker.append('r', 'x'), { offset: 1, epoch: 'e1' });
  await broker.append('r', 'y');
  await broker.append('r', 'z');
  const page = await broker.read('r', { after: 0, limit: 10 });
  assert.deepEqual([page.latest, page.first, page.entries.map((e) => e.record)], [3, 2, ['y', 'z']]);
  assert.notEqual(new MemoryBroker().epoch, new MemoryBroker().epoch, 'a new instance is a new epoch');
});

test('presence records expire unless refreshed', async () => {
  let now = 0;
  const broker = new MemoryBroker({ now: () => now });
  await broker.setPresence('r', 'c1', 'u1', 1000);
  await broker.setPresence('r', 'c2', 'u2', 1000);
  now = 900;
  await broker.setPresence('r', 'c1', 'u1', 1000);
  now = 1500;
  assert.deepEqual(await broker.listPresence('r'), [{ key: 'c1', value: 'u1' }]);
  await broker.deletePresence('r', 'c1');
  assert.deepEqual(await broker.listPresence('r'), []);
});

test('remember keeps the first value of a key until it expires, unless replaced; forget deletes it', async () => {
  let now = 0;
  const broker = new MemoryBroker({ now: () => now });
  assert.equal(await broker.remember('k', 'first', 1000), null);
  assert.equal(await broker.remember('k', 'second', 1000), 'first');
  assert.equal(await broker.remember('k', 'third', 1000, { replace: true }), null);
  assert.equal(await broker.remember('k', 'x', 1000), 'third');
  now = 2000;
  assert.equal(await broker.remember('k', 'fresh', 1000), null, 'expired');
  await broker.forget('k');
  assert.equal(await broker.remember('k', 'again', 1000), null);
});

test('append with a dedup key stores once: a repeated key answers the first offset as a duplicate', async () => {
  let clock = 1_000;
  const broker = new MemoryBroker({ now: () => clock });
  const dedup = { dedupKey: 'seen:u:m1', ttlMs: 60_000 };
  assert.deepEqual(await broker.append('r', '{"n":1}', dedup), { offset: 1, epoch: broker.epoch });
  assert.deepEqual(await broker.append('r', '{"n":1}', dedup), { offset: 1, epoch: broker.epoch, duplicate: true });
  assert.deepEqual(await broker.append('r', '{"n":2}', { dedupKey: 'seen:u:m2', ttlMs: 60_000 }), { offset: 2, epoch: broker.epoch });
  assert.equal((await broker.append('r', '{"n":3}')).offset, 3, 'without a key every append stores');
  assert.deepEqual((await broker.read('r', { after: 0, limit: 10 })).entries.map((e) => e.record), ['{"n":1}', '{"n":2}', '{"n":3}']);
  assert.equal(await broker.remember('seen:u:m1', '', 60_000), '1', 'the claim shares the remember keyspace');
  clock += 60_001;
  assert.deepEqual(await broker.append('r', '{"n":1}', dedup), { offset: 4, epoch: broker.epoch }, 'an expired claim is gone');
});
