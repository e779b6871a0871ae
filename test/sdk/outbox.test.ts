import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, OutboxFullError, utf8Length } from '../../src/sdk/outbox.js';

test('reject-new refuses a message over the count bound, rejects its promise and reports it', async () => {
  const outbox = new Outbox<string, string>({ maxCount: 2 });
  const reports: string[] = [];
  outbox.on('overflow', ({ entry, error }) => reports.push(`${entry.id}:${error.limit}`));
  const a = outbox.add('a', 'x', 'meta-a');
  const b = outbox.add('b', 'y', 'meta-b');
  await assert.rejects(outbox.add('c', 'z', 'meta-c'), (e: unknown) => e instanceof OutboxFullError && e.messageId === 'c' && e.limit === 'count');
  assert.deepEqual(reports, ['c:count']);
  assert.equal(outbox.size, 2);
  outbox.ack('a', 'ok-a');
  outbox.ack('b', 'ok-b');
  assert.deepEqual(await Promise.all([a, b]), ['ok-a', 'ok-b']);
});

test('reject-new refuses a message over the byte bound, counting UTF-8 bytes', async () => {
  const outbox = new Outbox({ maxBytes: 10 });
  void outbox.add('a', 'ééé', null); // 6 bytes
  await assert.rejects(outbox.add('b', 'abcde', null), (e: unknown) => e instanceof OutboxFullError && e.limit === 'bytes');
  assert.equal(outbox.bytes, 6);
  void outbox.add('c', 'abcd', null);
  assert.equal(outbox.bytes, 10);
  assert.equal(outbox.size, 2);
});

test('drop-oldest pushes the oldest messages out, rejecting each of them and reporting it', async () => {
  const outbox = new Outbox<null, string>({ maxCount: 2, overflow: 'drop-oldest' });
  const dropped: string[] = [];
  outbox.on('overflow', ({ entry }) => dropped.push(entry.id));
  const a = outbox.add('a', 'x', null);
  const b = outbox.add('b', 'y', null);
  const c = outbox.add('c', 'z', null);
  await assert.rejects(a, (e: unknown) => e instanceof OutboxFullError && e.messageId === 'a' && /dropped/.test(e.message));
  assert.deepEqual(dropped, ['a']);
  assert.deepEqual(outbox.entries().map((e) => e.id), ['b', 'c']);
  outbox.ack('b', 'B');
  outbox.ack('c', 'C');
  assert.deepEqual(await Promise.all([b, c]), ['B', 'C']);
});

test('a message bigger than maxBytes on its own is refused even with drop-oldest, and nothing is dropped for it', async () => {
  const outbox = new Outbox({ maxBytes: 4, overflow: 'drop-oldest' });
  void outbox.add('a', 'ab', null);
  await assert.rejects(outbox.add('big', 'abcdefgh', null), OutboxFullError);
  assert.deepEqual(outbox.entries().map((e) => e.id), ['a']);
});

test('toSend hands each message out once per session and again on the next session until acked', () => {
  const outbox = new Outbox();
  void outbox.add('a', 'A', null);
  void outbox.add('b', 'B', null);
  assert.deepEqual(outbox.toSend(1).map((e) => e.id), ['a', 'b']);
  assert.deepEqual(outbox.toSend(1), []);
  void outbox.add('c', 'C', null);
  assert.deepEqual(outbox.toSend(1).map((e) => e.id), ['c']);
  outbox.ack('a', undefined);
  assert.deepEqual(outbox.toSend(2).map((e) => e.id), ['b', 'c']);
  assert.deepEqual(outbox.toSend(2), []);
});

test('ack and fail free the space; unknown ids return false', async () => {
  const outbox = new Outbox({ maxCount: 1 });
  const a = outbox.add('a', 'A', null);
  assert.equal(outbox.ack('zzz', undefined), false);
  assert.equal(outbox.fail('a', new Error('refused')), true);
  await assert.rejects(a, /refused/);
  assert.equal(outbox.size, 0);
  assert.equal(outbox.bytes, 0);
  void outbox.add('b', 'B', null);
  assert.equal(outbox.size, 1);
});

test('failAll rejects every held message', async () => {
  const outbox = new Outbox();
  const all = [outbox.add('a', 'A', null), outbox.add('b', 'B', null)];
  outbox.failAll(new Error('stopped'));
  for (const p of all) await assert.rejects(p, /stopped/);
  assert.equal(outbox.size, 0);
});

test('a duplicate id is refused', async () => {
  const outbox = new Outbox();
  void outbox.add('a', 'A', null);
  await assert.rejects(outbox.add('a', 'A', null), /already/);
});

test('utf8Length agrees with Buffer.byteLength, surrogate pairs and lone surrogates included', () => {
  for (const s of ['', 'abc', 'é', '日本語', '😀', 'a😀b', '\ud800', '\udc00x', '\ud83d\ude00\ud83d']) {
    assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
  }
});
