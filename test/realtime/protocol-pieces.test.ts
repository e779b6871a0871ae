// Small pieces of the realtime protocol: schemas, the binary envelope, the token bucket, the dedup window, offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientMessage, ServerMessage, conversationId, inboxRoom } from '../../src/realtime/messages.js';
import { decodeBinaryEnvelope, encodeBinaryEnvelope } from '../../src/realtime/binary-envelope.js';
import { TokenBucket } from '../../src/realtime/rate-limit.js';
import { RecentIds } from '../../src/realtime/recent-ids.js';
import { offsetOf, withOffset } from '../../src/realtime/history.js';

test('client schemas accept the documented messages and refuse violations', () => {
  for (const ok of [
    { type: 'hello' }, { type: 'join', room: 'lobby', since: 0, epoch: 'e' }, { type: 'leave', id: '1', room: 'x' },
    { type: 'chat', room: 'r', text: 'hi' }, { type: 'dm', to: 'u', text: 'yo' }, { type: 'ping', id: 'p' },
  ]) assert.equal(ClientMessage.safeParse(ok).success, true, JSON.stringify(ok));
  for (const bad of [
    { type: 'join', room: '' }, { type: 'join', room: 'é'.repeat(65) }, { type: 'join', room: 'a\nb' },
    { type: 'join', room: 'r', since: -1 }, { type: 'join', room: 'r', since: 1.5 }, { type: 'chat', room: 'r', text: '' },
    { type: 'chat', room: 'r', text: 'x'.repeat(8193) }, { type: 'dm', text: 'no target' }, { type: 'ping', id: 'x'.repeat(65) },
  ]) assert.equal(ClientMessage.safeParse(bad).success, false, JSON.stringify(bad));
});

test('server messages produced by the hub parse with the server schema', () => {
  const chat = JSON.parse(withOffset(JSON.stringify({ type: 'chat', id: 'n.1', room: 'r', from: { id: 'a', name: 'A' }, text: 't', ts: 1 }), 7));
  assert.equal(ServerMessage.parse(chat).type, 'chat');
  assert.equal(chat.offset, 7);
});

test('withOffset and offsetOf round-trip and ignore messages without an offset', () => {
  const wire = withOffset('{"type":"chat"}', 42);
  assert.equal(wire, '{"offset":42,"type":"chat"}');
  assert.equal(offsetOf(wire), 42);
  assert.equal(offsetOf('{"type":"presence"}'), undefined);
});

test('inbox rooms and conversation ids', () => {
  assert.equal(inboxRoom('u1'), '@user:u1');
  assert.equal(conversationId('b', 'a'), conversationId('a', 'b'));
});

test('the binary envelope round-trips and malformed frames decode to null', () => {
  const frame = encodeBinaryEnvelope('room ✓', 'k', new Uint8Array([7, 8]));
  assert.deepEqual(frame.subarray(0, 2), new Uint8Array([1, Buffer.byteLength('room ✓')]));
  const decoded = decodeBinaryEnvelope(frame);
  assert.deepEqual(decoded && [decoded.room, decoded.kind, [...decoded.payload]], ['room ✓', 'k', [7, 8]]);
  for (const bad of [[], [2, 1, 65, 0], [1, 0, 0], [1, 5, 65], [1, 1, 0xff, 0], [1, 1, 65, 3, 66]]) {
    assert.equal(decodeBinaryEnvelope(new Uint8Array(bad)), null, JSON.stringify(bad));
  }
  assert.throws(() => encodeBinaryEnvelope('', 'k', new Uint8Array()), RangeError);
});

test('a token bucket allows the burst, then one token per interval, and says when', () => {
  const bucket = new TokenBucket({ perSecond: 10, burst: 2 }, 0);
  assert.deepEqual([bucket.take(0), bucket.take(0)], [0, 0]);
  assert.equal(bucket.take(0), 100);
  assert.equal(bucket.take(50), 50);
  assert.equal(bucket.take(100), 0);
  bucket.giveBack();
  assert.equal(bucket.take(100), 0);
  assert.throws(() => new TokenBucket({ perSecond: 0, burst: 1 }, 0), RangeError);
});

test('the duplicate window is bounded by count and age', async () => {
  const ids = new RecentIds({ size: 2, ttlMs: 1000 });
  ids.remember('a', Promise.resolve(1), 0);
  ids.remember('b', Promise.resolve(2), 0);
  ids.remember('c', Promise.resolve(3), 0);
  assert.equal(ids.get('a', 0), undefined, 'evicted by count');
  assert.equal(await ids.get('b', 10), 2);
  assert.equal(ids.get('c', 1001), undefined, 'expired by age');
});
