import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareMessage } from '../../src/protocol/index.js';
import { hex } from '../helpers/bytes.js';

test('prepareMessage frames text and binary once, unmasked, with FIN set', () => {
  assert.deepEqual(prepareMessage('Hello', { binary: false }).frame, hex('81 05 48 65 6c 6c 6f'));
  assert.deepEqual(prepareMessage(Buffer.from([1, 2]), { binary: true }).frame, hex('82 02 01 02'));
  const big = prepareMessage(Buffer.alloc(300), { binary: true });
  assert.deepEqual(big.frame.subarray(0, 4), hex('82 7e 01 2c'));
  assert.equal(big.frame.length, 304);
});

test('frameFor caches the compressed frame per shareKey and falls back to the plain frame when declined', () => {
  let calls = 0;
  const ext = (shareKey: string, declines: boolean) => ({
    name: 'x', responseHeader: 'x', shareKey, release: () => {},
    decompress: (p: Buffer) => p,
    compressFragment: (p: Buffer) => p,
    compress: (p: Buffer) => { calls++; return declines ? null : Buffer.from([p.length]); },
  });
  const prepared = prepareMessage('abcdef', { binary: false });
  const one = prepared.frameFor(ext('k1', false));
  assert.deepEqual(one, hex('c1 01 06'));
  assert.equal(prepared.frameFor(ext('k1', false)), one);
  assert.equal(calls, 1);
  assert.equal(prepared.frameFor(ext('k2', true)), prepared.frame);
  assert.equal(prepared.frameFor(ext('k2', true)), prepared.frame);
  assert.equal(calls, 2);
});
