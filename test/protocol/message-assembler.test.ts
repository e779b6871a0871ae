import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskWord } from '../../src/protocol/mask.js';
import { PREALLOCATE_MAX_BYTES } from '../../src/protocol/limits.js';
import { MessageAssembler } from '../../src/protocol/message-assembler.js';
import { hex } from '../helpers/bytes.js';

const own = (size: number, fill: number): Buffer => Buffer.from(new Uint8Array(size).fill(fill).buffer);

test('a frame split across reads is unmasked into one buffer of exactly its size, leaving the chunks masked', () => {
  const a = new MessageAssembler({ maxPayload: 1 << 20, extension: null });
  const key = 0x3d21fa37;
  const payload = Buffer.alloc(65536);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const masked = Buffer.from(payload);
  maskWord(masked, 0, masked.length, key, 0);
  const first = Buffer.from(masked.subarray(0, 30_001));
  const second = Buffer.from(masked.subarray(30_001));
  a.startFrame(2, true, false, payload.length);
  assert.equal(a.addMaskedPayload(first, 65536, key, 0), null);
  assert.equal(a.capacity, 65536, 'the whole frame is allocated at its first piece (it is under the preallocation bound)');
  assert.equal(a.addMaskedPayload(second, 65536, key, 30_001 & 3), null);
  assert.equal(a.endFrame(), null);
  const data = a.takeMessage();
  assert.deepEqual(data, payload);
  assert.deepEqual(first, masked.subarray(0, 30_001), 'the socket chunk is read, not unmasked in place');
  assert.equal(a.active, false);
});

test('a peer announcing a huge frame and sending little gets a bounded buffer that grows with what arrives', () => {
  const maxPayload = 100 * 1024 * 1024;
  const a = new MessageAssembler({ maxPayload, extension: null });
  a.startFrame(2, true, false, maxPayload);
  a.addMaskedPayload(Buffer.alloc(1), 65536, 0x01020304, 0);
  assert.equal(a.capacity, PREALLOCATE_MAX_BYTES, 'one byte of a 100 MiB frame allocates the bound, not 100 MiB');
  let received = 1;
  const piece = Buffer.alloc(65536, 5);
  while (received + piece.length <= 3 * 1024 * 1024) {
    assert.equal(a.addMaskedPayload(piece, piece.length, 0x01020304, received & 3), null);
    received += piece.length;
    assert.ok(a.capacity >= received, 'room for every byte received');
    assert.ok(a.capacity <= Math.max(PREALLOCATE_MAX_BYTES, 2 * received), `capacity ${a.capacity} after ${received} bytes`);
  }
});

test('a fragmented message grows geometrically, never past maxPayload, and its final frame ends it exactly', () => {
  const a = new MessageAssembler({ maxPayload: 10_000, extension: null });
  a.startFrame(2, false, false, 3000);
  a.addPayload(Buffer.alloc(3000, 1), 3000);
  a.endFrame();
  a.startFrame(0, false, false, 3000);
  a.addPayload(Buffer.alloc(3000, 2), 3000);
  a.endFrame();
  assert.equal(a.capacity, 6000);
  a.startFrame(0, false, false, 3000);
  a.addPayload(Buffer.alloc(3000, 3), 3000);
  assert.equal(a.capacity, 10_000, 'doubling stops at maxPayload');
  a.endFrame();
  a.startFrame(0, true, false, 1000);
  a.addPayload(Buffer.alloc(1000, 4), 1000);
  a.endFrame();
  const data = a.takeMessage();
  assert.equal(data.length, 10_000);
  assert.deepEqual([data[0], data[2999], data[3000], data[6000], data[9999]], [1, 1, 2, 3, 4]);
});

test('small pieces of large socket chunks are copied, so the chunks are not retained', () => {
  const a = new MessageAssembler({ maxPayload: 1 << 20, extension: null });
  const big = own(65536, 2);
  a.startFrame(2, false, false, 100);
  a.addPayload(big.subarray(0, 100), big.length);
  a.endFrame();
  a.startFrame(0, true, false, 100);
  a.addPayload(big.subarray(100, 200), big.length);
  a.endFrame();
  const data = a.takeMessage();
  assert.equal(data.length, 200);
  assert.notEqual(data.buffer, big.buffer);
  assert.ok(data.every((b) => b === 2));
});

test('a large piece that is less than half of its chunk is copied too', () => {
  const a = new MessageAssembler({ maxPayload: 1 << 20, extension: null });
  const big = own(65536, 3);
  a.startFrame(2, true, false, 5000);
  a.addPayload(big.subarray(0, 5000), big.length);
  a.endFrame();
  assert.notEqual(a.takeMessage().buffer, big.buffer);
});

test('many small fragments are reassembled in order in one buffer at most twice their size', () => {
  const a = new MessageAssembler({ maxPayload: 1 << 22, extension: null });
  const expected: number[] = [];
  a.startFrame(2, false, false, 0);
  a.endFrame();
  for (let i = 0; i < 3000; i++) {
    const piece = Buffer.alloc(37, i & 0xff);
    a.startFrame(0, i === 2999, false, piece.length);
    a.addPayload(piece, piece.length);
    a.endFrame();
    for (let j = 0; j < 37; j++) expected.push(i & 0xff);
  }
  assert.ok(a.capacity <= 2 * expected.length, `3,000 fragments of 37 bytes held in ${a.capacity} bytes`);
  assert.deepEqual([...a.takeMessage()], expected);
});

test('text is validated piece by piece and a truncated ending is refused at the final frame', () => {
  const a = new MessageAssembler({ maxPayload: 100, extension: null });
  a.startFrame(1, false, false, 2);
  assert.equal(a.addPayload(hex('61 e2'), 2), null);
  assert.equal(a.endFrame(), null);
  a.startFrame(0, true, false, 1);
  assert.equal(a.addPayload(hex('82'), 1), null);
  const error = a.endFrame();
  assert.equal(error?.code, 'WS_INVALID_UTF8');
  assert.equal(error?.closeCode, 1007);
});
