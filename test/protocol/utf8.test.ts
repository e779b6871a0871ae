import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Utf8Validator, isValidUtf8 } from '../../src/protocol/utf8.js';
import { hex } from '../helpers/bytes.js';

const valid = ['', 'hello', 'κόσμε', '€', '𝄞', '\u{10FFFF}', '\u{FFFF}', '\u{D7FF}', '\u{E000}', 'a'.repeat(100) + '😀'.repeat(20)];
const invalid = [
  'ff', 'fe', '80', 'bf', 'c0 80', 'c1 bf', 'e0 80 80', 'e0 9f bf', 'ed a0 80', 'ed bf bf', 'f0 80 80 80', 'f0 8f bf bf',
  'f4 90 80 80', 'f5 80 80 80', 'f8 88 80 80 80', 'c2 41', 'e2 82 41', 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64',
];

test('isValidUtf8 accepts valid text and rejects each invalid sequence', () => {
  for (const text of valid) assert.equal(isValidUtf8(Buffer.from(text)), true, text);
  for (const bytes of invalid) assert.equal(isValidUtf8(hex(bytes)), false, bytes);
});

test('Utf8Validator accepts valid text fed at every split point', () => {
  for (const text of valid) {
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i++) {
      const v = new Utf8Validator();
      assert.equal(v.write(bytes.subarray(0, i)), true);
      assert.equal(v.write(bytes.subarray(i)), true);
      assert.equal(v.complete, true, `${text} split at ${i}`);
    }
  }
});

test('Utf8Validator accepts valid text fed one byte at a time and is incomplete mid-character', () => {
  const bytes = Buffer.from('a€𝄞');
  const v = new Utf8Validator();
  const completeAfter: boolean[] = [];
  for (const b of bytes) {
    assert.equal(v.write(Buffer.from([b])), true);
    completeAfter.push(v.complete);
  }
  assert.deepEqual(completeAfter, [true, false, false, true, false, false, false, true]);
});

test('Utf8Validator rejects each invalid sequence at the first impossible byte, for any split', () => {
  // [bytes, index of the first byte that makes the prefix invalid]
  const cases: [string, number][] = [
    ['61 ff', 1], ['61 80', 1], ['c0 80', 0], ['e0 80 80', 1], ['ed a0 80', 1], ['f0 8f 80 80', 1], ['f4 90 80 80', 1],
    ['f5', 0], ['c2 41', 1], ['e2 82 41', 2], ['f0 9f 98 41', 3],
  ];
  for (const [text, badAt] of cases) {
    const bytes = hex(text);
    // The prefix before the bad byte is still acceptable.
    const ok = new Utf8Validator();
    assert.equal(ok.write(bytes.subarray(0, badAt)), true, `${text}: prefix`);
    for (let split = 0; split <= bytes.length; split++) {
      const v = new Utf8Validator();
      const first = v.write(bytes.subarray(0, split));
      const result = first && v.write(bytes.subarray(split));
      assert.equal(result, false, `${text} split at ${split}`);
      assert.equal(first, split <= badAt, `${text} split at ${split}: fails as soon as the bad byte arrives`);
    }
  }
});

test('Utf8Validator reset forgets an unfinished sequence', () => {
  const v = new Utf8Validator();
  v.write(hex('e2 82'));
  assert.equal(v.complete, false);
  v.reset();
  assert.equal(v.complete, true);
  assert.equal(v.write(Buffer.from('ok')), true);
});

test('Utf8Validator agrees with isUtf8 on random byte strings', () => {
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let round = 0; round < 3000; round++) {
    const length = next() % 12;
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = next() % 4 === 0 ? next() & 0xff : [0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xbf][next() % 12];
    const split = length === 0 ? 0 : next() % (length + 1);
    const v = new Utf8Validator();
    const ok = v.write(bytes.subarray(0, split)) && v.write(bytes.subarray(split)) && v.complete;
    assert.equal(ok, isValidUtf8(bytes), bytes.toString('hex'));
  }
});
