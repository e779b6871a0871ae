import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageAssembler } from '../../src/protocol/message-assembler.js';
import { hex } from '../helpers/bytes.js';

const own = (size: number, fill: number): Buffer => Buffer.from(new Uint8Array(size).fill(fill).buffer);

test('a message made of one large piece is that piece, without a copy', () => {
  const a = new MessageAssembler({ maxPayload: 1 << 20, extension: null });
  const chunk = own(8192, 1);
  a.startFrame(2, true, false, chunk.length);
  assert.equal(a.addPayload(chunk, chunk.length), null);
  assert.equal(a.endFrame(), null);
  const data = a.takeMessage();
  assert.equal(data.buffer, chunk.buffer);
  assert.equal(a.active, false);
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

test('pieces are reassembled in order across tail buffers', () => {
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
