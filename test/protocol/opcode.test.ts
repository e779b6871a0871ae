import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode, isControlOpcode, isKnownOpcode } from '../../src/protocol/index.js';

test('Opcode has the RFC 6455 §5.2 values', () => {
  assert.deepEqual(Opcode, { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 });
});

test('isKnownOpcode and isControlOpcode classify all 16 opcodes', () => {
  const known = [];
  const control = [];
  for (let op = 0; op < 16; op++) {
    if (isKnownOpcode(op)) known.push(op);
    if (isControlOpcode(op)) control.push(op);
  }
  assert.deepEqual(known, [0, 1, 2, 8, 9, 10]);
  assert.deepEqual(control, [8, 9, 10, 11, 12, 13, 14, 15]);
});
