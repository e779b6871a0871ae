import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillMaskKey, maskKeyWord, maskRange, maskWordInto, sharedReadBuffer } from '../../src/protocol/mask.js';
import { maskSimd, simdReadArea } from '../../src/protocol/mask-simd.js';

function naive(data: Buffer, key: Buffer, phase: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i] ^= key[(phase + i) & 3];
  return out;
}

test('maskRange matches byte-wise XOR for every length, alignment and phase', () => {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const backing = Buffer.alloc(1024 + 4);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 31) & 0xff;
  for (const length of [0, 1, 3, 4, 5, 31, 32, 33, 64, 100, 129, 255, 256, 257, 258, 259, 300, 1001]) {
    for (let offset = 0; offset < 4; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const data = Buffer.from(backing.subarray(0, length + offset)).subarray(offset);
        const expected = naive(data, key, phase);
        maskRange(data, 0, data.length, key, 0, phase);
        assert.deepEqual(data, expected, `length ${length} offset ${offset} phase ${phase}`);
      }
    }
  }
});

test('long payloads (the WebAssembly SIMD path) match byte-wise XOR across 64 KiB blocks, alignments and phases', () => {
  assert.notEqual(maskSimd, null, 'Node 20 has WebAssembly SIMD: the fast path must be in use');
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  for (const length of [1023, 1024, 1025, 4099, 65535, 65536, 65537, 65536 * 2 + 21]) {
    for (let offset = 0; offset < 4; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const backing = Buffer.alloc(length + offset + 8);
        for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + length) & 0xff;
        const data = backing.subarray(offset + 3, offset + 3 + length);
        const before = Buffer.from(backing);
        const expected = naive(data, key, phase);
        maskRange(data, 0, data.length, key, 0, phase);
        assert.deepEqual(data, expected, `length ${length} offset ${offset} phase ${phase}`);
        assert.deepEqual(backing.subarray(0, offset + 3), before.subarray(0, offset + 3), 'bytes before the range untouched');
        assert.deepEqual(backing.subarray(offset + 3 + length), before.subarray(offset + 3 + length), 'bytes after the range untouched');
      }
    }
  }
});

test('maskWordInto writes the masked range into the target, short and SIMD lengths, leaving the source and the rest intact', () => {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  for (const length of [0, 1, 5, 255, 256, 1023, 1024, 1025, 65535, 65536, 65537, 65536 * 2 + 21]) {
    for (let offset = 0; offset < 4; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const source = Buffer.alloc(length + offset + 3);
        for (let i = 0; i < source.length; i++) source[i] = (i * 131 + length) & 0xff;
        const sourceBefore = Buffer.from(source);
        const target = Buffer.alloc(length + 11, 0xee);
        const targetStart = (offset * 3 + phase) % 7;
        maskWordInto(source, offset + 3, offset + 3 + length, target, targetStart, maskKeyWord(key, 0), phase);
        const label = `length ${length} offset ${offset} phase ${phase}`;
        assert.deepEqual(target.subarray(targetStart, targetStart + length), naive(source.subarray(offset + 3, offset + 3 + length), key, phase), label);
        assert.ok(target.subarray(0, targetStart).every((b) => b === 0xee), `${label}: bytes before the target range untouched`);
        assert.ok(target.subarray(targetStart + length).every((b) => b === 0xee), `${label}: bytes after the target range untouched`);
        assert.deepEqual(source, sourceBefore, `${label}: source untouched`);
      }
    }
  }
});

test('a source in the shared read area (WebAssembly memory) is unmasked where it lies and copied out once, at any offset and phase', () => {
  assert.notEqual(simdReadArea, null, 'Node 20 has WebAssembly SIMD: the read area must exist');
  const area = sharedReadBuffer();
  assert.equal(area, simdReadArea, 'the shared read buffer is the WebAssembly read area');
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  for (const length of [1024, 1025, 1041, 65536 + 7, area.length - 17]) {
    for (const offset of [0, 1, 3, 16, 17]) {
      for (let phase = 0; phase < 4; phase++) {
        for (let i = 0; i < area.length; i++) area[i] = (i * 131 + length) & 0xff;
        const areaBefore = Buffer.from(area);
        const expected = naive(area.subarray(offset, offset + length), key, phase);
        const target = Buffer.alloc(length + 6, 0xee);
        maskWordInto(area, offset, offset + length, target, 3, maskKeyWord(key, 0), phase);
        const label = `length ${length} offset ${offset} phase ${phase}`;
        assert.deepEqual(target.subarray(3, 3 + length), expected, label);
        assert.ok(target.subarray(0, 3).every((b) => b === 0xee) && target.subarray(3 + length).every((b) => b === 0xee), `${label}: target outside the range untouched`);
        assert.deepEqual(area.subarray(0, offset), areaBefore.subarray(0, offset), `${label}: read area before the range untouched`);
        assert.deepEqual(area.subarray(offset + length), areaBefore.subarray(offset + length), `${label}: read area after the range untouched`);
        // The range itself was unmasked where it lies (the read area is the transport's scratch space).
        maskRange(area, offset, offset + length, key, 0, phase);
        assert.deepEqual(area.subarray(offset, offset + length), areaBefore.subarray(offset, offset + length), `${label}: the range was unmasked where it lies (masking it again restores the original)`);
      }
    }
  }
});

test('maskRange masks only the given range and reads the key at its offset', () => {
  const holder = Buffer.from([9, 9, 1, 2, 3, 4]);
  const data = Buffer.alloc(10, 0xff);
  maskRange(data, 3, 7, holder, 2, 0);
  assert.deepEqual([...data], [0xff, 0xff, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xff, 0xff, 0xff]);
});

test('masking twice restores the payload (unmasking is the same operation)', () => {
  const key = Buffer.from([1, 2, 3, 4]);
  const data = Buffer.from('The quick brown fox jumps over the lazy dog, twice over.');
  const copy = Buffer.from(data);
  maskRange(data, 0, data.length, key, 0, 2);
  assert.notDeepEqual(data, copy);
  maskRange(data, 0, data.length, key, 0, 2);
  assert.deepEqual(data, copy);
});

test('fillMaskKey yields fresh keys from the pool, across refills', () => {
  const seen = new Set<string>();
  const target = Buffer.alloc(6);
  for (let i = 0; i < 5000; i++) {
    fillMaskKey(target, 1);
    seen.add(target.subarray(1, 5).toString('hex'));
  }
  assert.equal(target[0], 0);
  assert.equal(target[5], 0);
  // 5,000 draws of 32 random bits: a handful of collisions at most, never a constant key.
  assert.ok(seen.size > 4990, `only ${seen.size} distinct keys`);
});
