// Sending through WebSocketProtocol: coalescing, pass-through of large payloads, masking, fragments, prepared frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError, ProtocolError, WebSocketProtocol, prepareMessage } from '../../src/protocol/index.js';
import type { MessageExtension } from '../../src/protocol/index.js';
import { COALESCE_MAX_BYTES } from '../../src/protocol/limits.js';
import { hex, parseFrames } from '../helpers/bytes.js';
import { feed } from '../conformance/harness.js';

test('small frames queued between takeOutgoing calls leave as one Buffer', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendText('a');
  server.sendBinary(Buffer.from([1, 2]));
  server.ping(Buffer.from('p'));
  server.sendText('é');
  assert.equal(server.outgoingBytes, 3 + 4 + 3 + 4);
  const out = server.takeOutgoing();
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], hex('81 01 61 82 02 01 02 89 01 70 81 02 c3 a9'));
  assert.equal(server.outgoingBytes, 0);
  assert.deepEqual(server.takeOutgoing(), []);
});

test('frames of two connections interleaved in one tick stay separate and correct', () => {
  const a = new WebSocketProtocol({ role: 'server' });
  const b = new WebSocketProtocol({ role: 'server' });
  a.sendText('a1');
  b.sendText('b1');
  a.sendText('a2');
  b.sendText('b2');
  assert.deepEqual(Buffer.concat(a.takeOutgoing()), hex('81 02 61 31 81 02 61 32'));
  assert.deepEqual(Buffer.concat(b.takeOutgoing()), hex('81 02 62 31 81 02 62 32'));
});

test('bytes already taken are never overwritten by later sends', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendText('first');
  const [first] = server.takeOutgoing();
  const snapshot = Buffer.from(first);
  for (let i = 0; i < 10_000; i++) server.sendText(`message ${i}`);
  server.takeOutgoing();
  assert.deepEqual(first, snapshot);
});

test('a large server payload is queued as its own chunk without a copy', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  const payload = Buffer.alloc(COALESCE_MAX_BYTES + 1, 7);
  server.sendText('before');
  server.sendBinary(payload);
  server.sendText('after');
  const out = server.takeOutgoing();
  assert.equal(out.length, 3);
  assert.equal(out[1], payload, 'the same Buffer object');
  const frames = parseFrames(out);
  assert.deepEqual(frames.map((f) => f.payload.length), [6, payload.length, 5]);
  assert.equal(server.outgoingBytes, 0);
});

test('a client masks every frame with a fresh key and never changes the caller\'s buffer', () => {
  const client = new WebSocketProtocol({ role: 'client' });
  const small = Buffer.from('same payload');
  const large = Buffer.alloc(COALESCE_MAX_BYTES * 2, 0x41);
  client.sendBinary(small);
  client.sendBinary(small);
  client.sendBinary(large);
  client.sendText('t'.repeat(50));
  client.sendText('s');
  const frames = parseFrames(client.takeOutgoing());
  assert.equal(frames.length, 5);
  for (const f of frames) assert.equal(f.masked, true);
  assert.notDeepEqual(frames[0].key, frames[1].key);
  assert.deepEqual(frames[0].payload, small);
  assert.deepEqual(frames[2].payload, large);
  assert.equal(frames[3].payload.toString(), 't'.repeat(50));
  assert.equal(small.toString(), 'same payload');
  assert.ok(large.every((b) => b === 0x41));
});

test('strings of every size class are framed with the right length and content', () => {
  for (const text of ['', 'x', 'é'.repeat(41), '😀'.repeat(20), 'a'.repeat(42), 'é'.repeat(63), 'a'.repeat(126), 'ü'.repeat(5000), 'z'.repeat(70_000)]) {
    for (const role of ['server', 'client'] as const) {
      const p = new WebSocketProtocol({ role });
      p.sendText(text);
      const frames = parseFrames(p.takeOutgoing());
      assert.equal(frames.length, 1);
      assert.equal(frames[0].opcode, 1);
      assert.equal(frames[0].payload.toString('utf8'), text, `${role} ${text.length}`);
    }
  }
});

test('sendFragment streams a message: first frame picks the type, the rest are continuations', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendFragment('binary', Buffer.from('ab'), false);
  server.ping();
  server.sendFragment('text', Buffer.from('cd'), false);
  server.sendFragment('text', Buffer.from('ef'), true);
  server.sendText('next');
  assert.deepEqual(Buffer.concat(server.takeOutgoing()), hex('02 02 61 62 89 00 00 02 63 64 80 02 65 66 81 04 6e 65 78 74'));
});

test('sendText while a streamed message is in progress throws InvalidStateError', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendFragment('text', Buffer.from('a'), false);
  assert.throws(() => server.sendText('b'), InvalidStateError);
  assert.throws(() => server.sendBinary(Buffer.from('b')), InvalidStateError);
});

test('sendBinary accepts ArrayBuffer and typed-array views without changing their bytes', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  const ab = new Uint8Array([1, 2, 3]).buffer;
  server.sendBinary(ab);
  server.sendBinary(new Uint16Array([0x0201]));
  server.sendBinary(new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2));
  assert.deepEqual(Buffer.concat(server.takeOutgoing()), hex('82 03 01 02 03 82 02 01 02 82 02 08 07'));
});

test('ping and pong refuse payloads over 125 bytes with RangeError', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  assert.throws(() => server.ping(Buffer.alloc(126)), RangeError);
  assert.throws(() => server.pong(Buffer.alloc(126)), RangeError);
  server.ping(Buffer.alloc(125));
  server.pong(Buffer.from('x'));
  const frames = parseFrames(server.takeOutgoing());
  assert.deepEqual(frames.map((f) => [f.opcode, f.payload.length]), [[9, 125], [10, 1]]);
});

test('sendFrame queues the prepared bytes themselves on every server connection', () => {
  const prepared = prepareMessage('broadcast', { binary: false });
  const a = new WebSocketProtocol({ role: 'server' });
  const b = new WebSocketProtocol({ role: 'server' });
  a.sendFrame(prepared);
  b.sendFrame(prepared);
  const outA = a.takeOutgoing();
  const outB = b.takeOutgoing();
  assert.equal(outA[0], prepared.frame);
  assert.equal(outB[0], prepared.frame);
  assert.deepEqual(prepared.frame, Buffer.concat([hex('81 09'), Buffer.from('broadcast')]));
  const client = new WebSocketProtocol({ role: 'client' });
  assert.throws(() => client.sendFrame(prepared), InvalidStateError);
});

function recordingExtension(shareKey: string | null): MessageExtension & { compressed: number; fragments: boolean[] } {
  return {
    name: 'test-ext',
    responseHeader: 'test-ext',
    shareKey,
    compressed: 0,
    fragments: [],
    decompress: (payload: Buffer) => Buffer.from(payload.toString('utf8').split('').reverse().join('')),
    compress(payload: Buffer) {
      this.compressed++;
      return payload.length < 3 ? null : Buffer.from(payload.toString('utf8').split('').reverse().join(''));
    },
    compressFragment(payload: Buffer, fin: boolean) {
      this.fragments.push(fin);
      return Buffer.from(payload.toString('utf8').split('').reverse().join(''));
    },
    release: () => {},
  };
}

test('with an extension, messages it compresses carry RSV1 and the others do not', () => {
  const ext = recordingExtension(null);
  const server = new WebSocketProtocol({ role: 'server', extension: ext });
  server.sendText('abc');
  server.sendText('ab');
  const frames = parseFrames(server.takeOutgoing());
  assert.deepEqual(frames.map((f) => [f.rsv1, f.payload.toString()]), [[true, 'cba'], [false, 'ab']]);
});

test('with an extension, every fragment of a streamed message is compressed and only the first has RSV1', () => {
  const ext = recordingExtension(null);
  const client = new WebSocketProtocol({ role: 'client', extension: ext });
  client.sendFragment('text', Buffer.from('ab'), false);
  client.sendFragment('text', Buffer.from('cd'), true);
  const frames = parseFrames(client.takeOutgoing());
  assert.deepEqual(frames.map((f) => [f.opcode, f.rsv1, f.fin, f.payload.toString()]), [[1, true, false, 'ba'], [0, false, true, 'dc']]);
  assert.deepEqual(ext.fragments, [false, true]);
});

test('sendFrame compresses a prepared message once per shareKey and shares the bytes', () => {
  const prepared = prepareMessage(Buffer.from('hello'), { binary: true });
  const ext1 = recordingExtension('deflate:15:no-takeover');
  const ext2 = recordingExtension('deflate:15:no-takeover');
  const a = new WebSocketProtocol({ role: 'server', extension: ext1 });
  const b = new WebSocketProtocol({ role: 'server', extension: ext2 });
  a.sendFrame(prepared);
  b.sendFrame(prepared);
  const outA = a.takeOutgoing();
  const outB = b.takeOutgoing();
  assert.equal(ext1.compressed + ext2.compressed, 1, 'compressed once');
  assert.equal(outA[0], outB[0], 'the same bytes object');
  assert.deepEqual(parseFrames(outA).map((f) => [f.rsv1, f.opcode, f.payload.toString()]), [[true, 2, 'olleh']]);
});

test('sendFrame with a context-takeover extension (no shareKey) compresses per connection', () => {
  const prepared = prepareMessage('hello', { binary: false });
  const ext = recordingExtension(null);
  const a = new WebSocketProtocol({ role: 'server', extension: ext });
  a.sendFrame(prepared);
  a.sendFrame(prepared);
  assert.equal(ext.compressed, 2);
  assert.equal(parseFrames(a.takeOutgoing()).length, 2);
});

test('a compressed message is inflated frame by frame with the remaining limit and validated as text', () => {
  const calls: [string, boolean, number][] = [];
  const ext: MessageExtension = {
    ...recordingExtension(null),
    decompress(payload, fin, limit) {
      calls.push([payload.toString(), fin, limit]);
      return Buffer.from(payload.toString().toUpperCase());
    },
  };
  const bytes = Buffer.concat([
    hex('41 02'), Buffer.from('ab'),
    hex('89 00'),
    hex('80 02'), Buffer.from('cd'),
  ]);
  const { events } = feed([bytes.subarray(0, 3), bytes.subarray(3)], { role: 'client', extension: ext, maxPayload: 100 });
  assert.deepEqual(calls, [['ab', false, 100], ['cd', true, 98]]);
  assert.deepEqual(events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)), ['ping', 'ABCD']);
});

test('inflated output past maxPayload fails with 1009, and a codec error is reported as given', () => {
  const inflating: MessageExtension = { ...recordingExtension(null), decompress: () => Buffer.alloc(50, 0x61) };
  const tooBig = feed([hex('c1 01 00')], { role: 'client', extension: inflating, maxPayload: 10 });
  assert.equal(tooBig.protocol.failure?.closeCode, 1009);
  assert.deepEqual(parseFrames(tooBig.out).at(-1)?.payload, hex('03 f1'));
  const corrupt: MessageExtension = {
    ...recordingExtension(null),
    decompress: () => new ProtocolError('WS_INVALID_COMPRESSED_DATA', 1007, 'bad'),
  };
  const bad = feed([hex('c2 01 00')], { role: 'client', extension: corrupt });
  assert.equal(bad.protocol.failure?.code, 'WS_INVALID_COMPRESSED_DATA');
  assert.deepEqual(parseFrames(bad.out).at(-1)?.payload, hex('03 ef'));
  // A codec that throws is an internal failure: 1011.
  const throwing: MessageExtension = { ...recordingExtension(null), decompress: () => { throw new Error('zlib'); } };
  const thrown = feed([hex('c2 01 00')], { role: 'client', extension: throwing });
  assert.equal(thrown.protocol.failure?.closeCode, 1011);
  assert.equal(thrown.protocol.failure?.code, 'WS_INTERNAL_ERROR');
});

test('a compressor that throws fails the connection with 1011 instead of throwing at the caller', () => {
  const throwing = { ...recordingExtension(null), compress: () => { throw new Error('deflate'); } };
  const server = new WebSocketProtocol({ role: 'server', extension: throwing });
  server.sendText('hello');
  const events = server.takeEvents();
  assert.equal(events.length, 1);
  assert.ok(events[0].type === 'error' && events[0].error.closeCode === 1011);
  assert.deepEqual(server.takeOutgoing(), [hex('88 02 03 f3')]);
  server.sendText('dropped');
  assert.deepEqual(server.takeOutgoing(), []);
});

test('inflated text that is not UTF-8 fails with 1007', () => {
  const ext: MessageExtension = { ...recordingExtension(null), decompress: () => hex('ff') };
  const { protocol } = feed([hex('c1 01 00')], { role: 'client', extension: ext });
  assert.equal(protocol.failure?.code, 'WS_INVALID_UTF8');
});
