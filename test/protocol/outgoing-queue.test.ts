import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutgoingQueue } from '../../src/protocol/outgoing-queue.js';
import { SEND_SLAB_BYTES } from '../../src/protocol/limits.js';

function write(queue: OutgoingQueue, text: string): void {
  const at = queue.reserve(text.length);
  queue.buffer.write(text, at, 'latin1');
  queue.commit(at + text.length);
}

test('consecutive writes of one queue form one chunk; a passed-through chunk keeps its place', () => {
  const q = new OutgoingQueue();
  write(q, 'ab');
  write(q, 'cd');
  const big = Buffer.from('BIG');
  q.pushChunk(big);
  write(q, 'ef');
  assert.equal(q.bytes, 9);
  const out = q.take();
  assert.deepEqual(out.map((b) => b.toString('latin1')), ['abcd', 'BIG', 'ef']);
  assert.equal(out[1], big);
  assert.equal(q.bytes, 0);
  assert.deepEqual(q.take(), []);
});

test('a reservation larger than what is written gives the rest back', () => {
  const q = new OutgoingQueue();
  const at = q.reserve(100);
  q.buffer.write('xyz', at, 'latin1');
  q.commit(at + 3);
  write(q, '!');
  assert.deepEqual(q.take().map((b) => b.toString('latin1')), ['xyz!']);
});

test('interleaved queues get separate chunks, and a full slab moves on to a new one without losing bytes', () => {
  const a = new OutgoingQueue();
  const b = new OutgoingQueue();
  const expectedA: string[] = [];
  const expectedB: string[] = [];
  const piece = 'p'.repeat(1000);
  for (let i = 0; i < Math.ceil((3 * SEND_SLAB_BYTES) / 1000); i++) {
    const ta = `${i}a${piece}`;
    const tb = `${i}b`;
    write(a, ta);
    write(b, tb);
    expectedA.push(ta);
    expectedB.push(tb);
  }
  assert.equal(Buffer.concat(a.take()).toString('latin1'), expectedA.join(''));
  assert.equal(Buffer.concat(b.take()).toString('latin1'), expectedB.join(''));
});

test('a queue pins no slab once its bytes are committed and taken', () => {
  const q = new OutgoingQueue();
  assert.equal(q.buffer.length, 0);
  const at = q.reserve(3);
  assert.ok(q.buffer.length >= 3);
  q.buffer.write('abc', at, 'latin1');
  q.commit(at + 3);
  assert.equal(q.buffer.length, 0);
  assert.deepEqual(q.take().map((b) => b.toString('latin1')), ['abc']);
});
