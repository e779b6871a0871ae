import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameHeaderSize, writeFrameHeader } from '../../src/protocol/frame.js';
import { hex } from '../helpers/bytes.js';

test('writeFrameHeader uses the minimal length form at each boundary', () => {
  const cases: [number, boolean, string][] = [
    [0, false, '81 00'],
    [125, false, '81 7d'],
    [126, false, '81 7e 00 7e'],
    [65535, false, '81 7e ff ff'],
    [65536, false, '81 7f 00 00 00 00 00 01 00 00'],
    [2 ** 32 + 5, false, '81 7f 00 00 00 01 00 00 00 05'],
    [5, true, '81 85'],
    [300, true, '81 fe 01 2c'],
  ];
  for (const [length, masked, expected] of cases) {
    const target = Buffer.alloc(14);
    const end = writeFrameHeader(target, 0, 0x81, length, masked);
    assert.deepEqual(target.subarray(0, end), hex(expected), `${length}`);
    assert.equal(frameHeaderSize(length, masked), end + (masked ? 4 : 0));
  }
});

test('writeFrameHeader writes at an offset', () => {
  const target = Buffer.alloc(8, 0xee);
  assert.equal(writeFrameHeader(target, 3, 0x8a, 1, false), 5);
  assert.deepEqual(target, hex('ee ee ee 8a 01 ee ee ee'));
});
