import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from '../../src/protocol/byte-queue.js';

test('consume returns a view of the first chunk when contiguous, a copy when the read spans chunks', () => {
  const q = new ByteQueue();
  // Own ArrayBuffers (small Buffer.from() results share Node's pool).
  const own = (text: string): Buffer => Buffer.from(new TextEncoder().encode(text).buffer);
  const a = own('abcd');
  const b = own('efgh');
  q.push(a);
  q.push(b);
  assert.equal(q.length, 8);
  const first = q.consume(2);
  assert.equal(first.toString(), 'ab');
  assert.equal(first.buffer, a.buffer, 'view, not copy');
  const spanning = q.consume(4);
  assert.equal(spanning.toString(), 'cdef');
  assert.notEqual(spanning.buffer, a.buffer);
  assert.equal(q.length, 2);
  assert.equal(q.consume(2).toString(), 'gh');
  assert.equal(q.length, 0);
});

test('byteAt reads across chunks and skip drops bytes across chunks', () => {
  const q = new ByteQueue();
  for (const part of ['a', 'bc', '', 'def']) q.push(Buffer.from(part));
  assert.equal(String.fromCharCode(q.byteAt(0), q.byteAt(1), q.byteAt(2), q.byteAt(5)), 'abcf');
  q.skip(2);
  assert.equal(String.fromCharCode(q.byteAt(0)), 'c');
  assert.equal(q.contiguous(1), true);
  assert.equal(q.contiguous(2), false);
  q.skip(2);
  assert.equal(q.length, 2);
  assert.equal(q.consume(2).toString(), 'ef');
});

test('takePiece never copies and reports the source chunk length', () => {
  const q = new ByteQueue();
  const chunk = Buffer.from(new TextEncoder().encode('0123456789').buffer);
  q.push(chunk);
  q.push(Buffer.from('xy'));
  const piece = q.takePiece(4);
  assert.equal(piece.toString(), '0123');
  assert.equal(piece.buffer, chunk.buffer);
  assert.equal(q.lastSourceLength, 10);
  assert.equal(q.takePiece(100).toString(), '456789');
  assert.equal(q.takePiece(100).toString(), 'xy');
  assert.equal(q.lastSourceLength, 2);
  assert.equal(q.length, 0);
});

test('clear drops everything', () => {
  const q = new ByteQueue();
  q.push(Buffer.from('abc'));
  q.clear();
  assert.equal(q.length, 0);
  assert.equal(q.contiguous(1), false);
});
