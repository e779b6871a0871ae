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

test('a 64 KiB frame split anywhere is unmasked into the message on the way: the payload is exact, the chunks stay masked', () => {
  const payload = Buffer.alloc(65536);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + (i >> 8)) & 0xff;
  const bytes = clientFrame({ opcode: 2, payload });
  const splits = [1, 2, 9, 13, 14, 15, 16, 17, 18, 1037, 1038, 32_775, 65_535, 65_536, 65_537, bytes.length - 2, bytes.length - 1];
  for (const at of splits) {
    for (const second of [0, 700, 5000]) {
      const cuts = [0, at, Math.min(bytes.length, at + second), bytes.length].filter((c, i, all) => i === 0 || c > all[i - 1]);
      const chunks = cuts.slice(1).map((end, i) => Buffer.from(bytes.subarray(cuts[i], end)));
      const parser = new FrameParser({ role: 'server', maxPayload: 1 << 20, extension: null });
      const results = chunks.map((chunk) => {
        parser.push(chunk);
        return parser.step();
      });
      assert.deepEqual(results, [...chunks.slice(1).map(() => Step.NeedMore), Step.Message], `cuts ${cuts.join(',')}`);
      assert.ok(parser.message.equals(payload), `cuts ${cuts.join(',')}`);
      // A payload whole in one chunk is unmasked in place and delivered as a view; one that spans reads is copied once.
      const payloadSpans = cuts.some((c) => c > 14 && c < bytes.length);
      if (payloadSpans) assert.ok(Buffer.concat(chunks).equals(bytes), `cuts ${cuts.join(',')}: the received chunks are read, not unmasked in place`);
    }
  }
});

test('text split across reads fails with 1007 on the read that carries the invalid byte', () => {
  const payload = Buffer.concat([Buffer.alloc(3000, 0x61), Buffer.from([0xe2, 0x82]), Buffer.from([0xff]), Buffer.alloc(3000, 0x61)]);
  const bytes = clientFrame({ opcode: 1, payload });
  const parser = new FrameParser({ role: 'server', maxPayload: 1 << 20, extension: null });
  parser.push(Buffer.from(bytes.subarray(0, 3009)));
  assert.equal(parser.step(), Step.NeedMore, 'valid so far, the character is unfinished');
  parser.push(Buffer.from(bytes.subarray(3009, 3100)));
  assert.equal(parser.step(), Step.Failed);
  assert.equal(parser.error?.closeCode, 1007);
});
