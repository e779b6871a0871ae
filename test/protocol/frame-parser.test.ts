import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, ParserState, Step } from '../../src/protocol/frame-parser.js';
import { clientFrame, frame } from '../helpers/bytes.js';

test('a whole frame in one chunk becomes the message as a view of that chunk', () => {
  const parser = new FrameParser({ role: 'client', maxPayload: 1000, extension: null });
  const bytes = Buffer.from(new Uint8Array(frame({ opcode: 2, payload: 'abc' })).buffer);
  parser.push(bytes);
  assert.equal(parser.step(), Step.Message);
  assert.equal(parser.message.buffer, bytes.buffer);
  assert.equal(parser.message.toString(), 'abc');
  assert.equal(parser.step(), Step.NeedMore);
});

test('a header trickled one byte at a time is only parsed once complete, then the payload streams', () => {
  const parser = new FrameParser({ role: 'server', maxPayload: 100_000, extension: null });
  const bytes = clientFrame({ opcode: 2, payload: Buffer.alloc(70_000, 9) });
  for (let i = 0; i < 13; i++) {
    parser.push(bytes.subarray(i, i + 1));
    assert.equal(parser.step(), Step.NeedMore);
    assert.equal(parser.state, ParserState.Header);
  }
  parser.push(bytes.subarray(13, 14));
  assert.equal(parser.step(), Step.NeedMore);
  assert.equal(parser.state, ParserState.DataPayload);
  assert.equal(parser.buffered, 0);
  parser.push(bytes.subarray(14, 30_000));
  assert.equal(parser.step(), Step.NeedMore);
  assert.equal(parser.buffered, 0, 'payload pieces are consumed as they arrive');
  parser.push(bytes.subarray(30_000));
  assert.equal(parser.step(), Step.Message);
  assert.equal(parser.message.length, 70_000);
  assert.ok(parser.message.every((b) => b === 9));
});

test('a control frame is delivered whole, even when split', () => {
  const parser = new FrameParser({ role: 'server', maxPayload: 10, extension: null });
  const bytes = clientFrame({ opcode: 9, payload: 'ping-data' });
  parser.push(bytes.subarray(0, 8));
  assert.equal(parser.step(), Step.NeedMore);
  assert.equal(parser.state, ParserState.ControlPayload);
  parser.push(bytes.subarray(8));
  assert.equal(parser.step(), Step.Control);
  assert.equal(parser.controlOpcode, 9);
  assert.equal(parser.controlPayload.toString(), 'ping-data');
});

test('after a failure the parser ignores input', () => {
  const parser = new FrameParser({ role: 'server', maxPayload: 10, extension: null });
  parser.push(frame({ opcode: 1, payload: 'unmasked' }));
  assert.equal(parser.step(), Step.Failed);
  assert.equal(parser.error?.code, 'WS_EXPECTED_MASK');
  assert.equal(parser.state, ParserState.Failed);
  parser.push(clientFrame({ opcode: 1, payload: 'ok' }));
  assert.equal(parser.buffered, 0);
  assert.equal(parser.step(), Step.NeedMore);
});
