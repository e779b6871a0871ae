// Messages and control frames that must be accepted (RFC 6455 §5.4, §5.5.2-3, §5.6, §8.1), fed in every split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocketProtocol } from '../../src/protocol/index.js';
import { allChunkings, clientFrame, frame, hex, parseFrames } from '../helpers/bytes.js';
import { feed, summarize } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('§5.4 control frames in the middle of a fragmented message are handled and the message completes', () => {
  const bytes = Buffer.concat([
    clientFrame({ opcode: 1, fin: false, payload: 'frag' }),
    clientFrame({ opcode: 9, payload: 'p1' }),
    clientFrame({ opcode: 0, fin: false, payload: 'men' }),
    clientFrame({ opcode: 10, payload: 'p2' }),
    clientFrame({ opcode: 0, payload: 'ted' }),
  ]);
  for (const chunks of allChunkings(bytes, { maxSplits: 64 })) {
    const { events, out } = feed(chunks, { role: 'server' });
    assert.deepEqual(summarize(events), [
      { type: 'ping', data: Buffer.from('p1').toString('hex') },
      { type: 'pong', data: Buffer.from('p2').toString('hex') },
      { type: 'message', binary: false, data: Buffer.from('fragmented').toString('hex') },
    ]);
    assert.deepEqual(out, hex('8a 02 70 31'));
  }
});

test('§5.4 empty fragments and an empty final frame give the right message', () => {
  const bytes = Buffer.concat([
    frame({ opcode: 2, fin: false }),
    frame({ opcode: 0, fin: false, payload: hex('01 02') }),
    frame({ opcode: 0, fin: false }),
    frame({ opcode: 0 }),
  ]);
  for (const chunks of allChunkings(bytes)) {
    const { events } = feed(chunks, { role: 'client' });
    assert.deepEqual(summarize(events), [{ type: 'message', binary: true, data: '0102' }]);
  }
});

test('§5.6 empty text and binary messages are delivered', () => {
  const bytes = Buffer.concat([clientFrame({ opcode: 1 }), clientFrame({ opcode: 2 })]);
  for (const chunks of allChunkings(bytes)) {
    const { events } = feed(chunks, { role: 'server' });
    assert.deepEqual(summarize(events), [
      { type: 'message', binary: false, data: '' },
      { type: 'message', binary: true, data: '' },
    ]);
  }
});

test('§8.1 valid multi-byte UTF-8 split inside characters across fragments and reads is accepted', () => {
  const text = 'κόσμε 𝄞 héllo ✓';
  const bytes = Buffer.from(text, 'utf8');
  const fragments = [bytes.subarray(0, 1), bytes.subarray(1, 6), bytes.subarray(6, 9), bytes.subarray(9)];
  const stream = Buffer.concat(fragments.map((p, i) => clientFrame({ opcode: i === 0 ? 1 : 0, fin: i === fragments.length - 1, payload: p })));
  for (const chunks of allChunkings(stream)) {
    const { events } = feed(chunks, { role: 'server' });
    assert.equal(events.length, 1);
    assert.ok(events[0].type === 'message');
    assert.equal(events[0].data.toString('utf8'), text);
  }
});

test('§8.1 text of 1 KiB with 4-byte characters, split at every byte, is accepted', () => {
  const text = '😀'.repeat(256);
  const bytes = clientFrame({ opcode: 1, payload: text });
  for (const chunks of allChunkings(bytes, { maxSplits: 1100 })) {
    const { events } = feed(chunks, { role: 'server' });
    assert.equal(events.length, 1);
    assert.ok(events[0].type === 'message' && events[0].data.toString('utf8') === text);
  }
});

test('§5.2 lengths 125, 126, 65535 and 65536 at the boundaries of the length forms round-trip', () => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 65537]) {
    const payload = Buffer.alloc(size, size & 0xff);
    const server = new WebSocketProtocol({ role: 'server' });
    server.sendBinary(payload);
    const bytes = Buffer.concat(server.takeOutgoing());
    const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
    assert.equal(bytes.length, header + size, `frame size for ${size}`);
    const { events } = feed([bytes], { role: 'client' });
    assert.equal(events.length, 1);
    assert.ok(events[0].type === 'message' && events[0].data.equals(payload), `payload of ${size}`);
  }
});

test('a non-minimal length encoding (16-bit form for 5 bytes) is accepted', () => {
  const { events } = feed([clientFrame({ opcode: 1, payload: 'Hello', lengthForm: 16 })], { role: 'server' });
  assert.deepEqual(summarize(events), [{ type: 'message', binary: false, data: Buffer.from('Hello').toString('hex') }]);
});

test('accepts a 4 MiB message in 65,536 fragments', () => {
  const fragment = 64;
  const count = 65536;
  const parts: Buffer[] = [];
  const key = Buffer.from([1, 2, 3, 4]);
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(fragment, i & 0xff);
    parts.push(frame({ opcode: i === 0 ? 2 : 0, fin: i === count - 1, payload, mask: key }));
  }
  const stream = Buffer.concat(parts);
  const protocol = new WebSocketProtocol({ role: 'server', maxPayload: 4 * 1024 * 1024 });
  // Delivered in 64 KiB reads, as a socket would.
  for (let at = 0; at < stream.length; at += 65536) protocol.receive(Buffer.from(stream.subarray(at, at + 65536)));
  const events = protocol.takeEvents();
  assert.equal(events.length, 1);
  const event = events[0];
  assert.ok(event.type === 'message' && event.binary);
  assert.equal(event.data.length, 4 * 1024 * 1024);
  assert.equal(event.data[64 * 300], 300 & 0xff);
  assert.equal(event.data[event.data.length - 1], (count - 1) & 0xff);
});

test('a flood of empty fragments keeps no per-fragment memory and the message still completes', () => {
  const protocol = new WebSocketProtocol({ role: 'server', maxPayload: 1024 });
  protocol.receive(clientFrame({ opcode: 2, fin: false, payload: 'a' }));
  const empty = clientFrame({ opcode: 0, fin: false });
  const batch = Buffer.concat(Array.from({ length: 10_000 }, () => empty));
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 20; i++) protocol.receive(Buffer.from(batch));
  const grown = process.memoryUsage().heapUsed - before;
  // 200,000 fragments: one retained object each would be megabytes; the queue and assembler keep none.
  assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${grown} bytes`);
  protocol.receive(clientFrame({ opcode: 0, payload: 'b' }));
  assert.deepEqual(summarize(protocol.takeEvents()), [{ type: 'message', binary: true, data: '6162' }]);
});

test('a flood of 1-byte fragments past maxPayload fails with 1009, memory bounded by the bytes', () => {
  const protocol = new WebSocketProtocol({ role: 'server', maxPayload: 100_000 });
  protocol.receive(clientFrame({ opcode: 2, fin: false, payload: 'a' }));
  const one = clientFrame({ opcode: 0, fin: false, payload: 'x' });
  const batch = Buffer.concat(Array.from({ length: 10_000 }, () => one));
  let failedAt = -1;
  for (let i = 0; i < 11 && failedAt < 0; i++) {
    protocol.receive(Buffer.from(batch));
    if (protocol.failure !== null) failedAt = i;
  }
  assert.equal(failedAt, 9);
  assert.equal(protocol.failure?.closeCode, 1009);
});

test('§5.5.2 a ping answered with a pong carrying the same payload, also for 125 bytes', () => {
  const payload = Buffer.alloc(125, 0x5a);
  for (const chunks of allChunkings(clientFrame({ opcode: 9, payload }), { maxSplits: 32 })) {
    const { events, out } = feed(chunks, { role: 'server' });
    assert.deepEqual(summarize(events), [{ type: 'ping', data: payload.toString('hex') }]);
    const frames = parseFrames(out);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].opcode, 10);
    assert.deepEqual(frames[0].payload, payload);
  }
});

test('§5.5.2 several pings in one read get their pongs in one coalesced buffer, in order', () => {
  const bytes = Buffer.concat([1, 2, 3].map((n) => clientFrame({ opcode: 9, payload: Buffer.from([n]) })));
  const { out, events } = feed([bytes], { role: 'server' });
  assert.equal(events.length, 3);
  assert.deepEqual(out, hex('8a 01 01 8a 01 02 8a 01 03'));
});

test('§5.5.3 unsolicited pongs are reported and not answered', () => {
  const { events, out } = feed([clientFrame({ opcode: 10, payload: 'u' })], { role: 'server' });
  assert.deepEqual(summarize(events), [{ type: 'pong', data: '75' }]);
  assert.equal(out.length, 0);
});

test('several messages in one chunk are all delivered in order', () => {
  const bytes = Buffer.concat(Array.from({ length: 16 }, (_, i) => clientFrame({ opcode: 1, payload: `m${i}` })));
  const { events } = feed([bytes], { role: 'server' });
  assert.deepEqual(events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)), Array.from({ length: 16 }, (_, i) => `m${i}`));
});

test('maxPayload defaults to 100 MiB and 0 means no limit, as in ws', () => {
  const header = hex('82 7f 00 00 00 00 06 40 00 01'); // 100 MiB + 1
  const byDefault = feed([clientFrame({ opcode: 2, announcedLength: 100 * 1024 * 1024 + 1 }).subarray(0, 14)], { role: 'server' });
  assert.equal(byDefault.protocol.failure?.closeCode, 1009);
  const unlimited = feed([frame({ opcode: 2, announcedLength: 100 * 1024 * 1024 + 1 }).subarray(0, 10)], { role: 'client', maxPayload: 0 });
  assert.equal(unlimited.protocol.failure, null);
  assert.deepEqual(frame({ opcode: 2, announcedLength: 100 * 1024 * 1024 + 1 }).subarray(0, 10), header);
});

test('a flood of 1-byte fragments costs about the bytes it carries, not an object or a socket chunk per fragment', () => {
  const protocol = new WebSocketProtocol({ role: 'server', maxPayload: 1024 * 1024 });
  const one = clientFrame({ opcode: 0, fin: false, payload: 'x' });
  const batch = Buffer.concat(Array.from({ length: 9000 }, () => one)); // one 63 KiB read: 9,000 fragments
  protocol.receive(clientFrame({ opcode: 2, fin: false, payload: 'a' }));
  gc();
  const before = process.memoryUsage();
  for (let i = 0; i < 30; i++) protocol.receive(Buffer.from(batch)); // 270,000 fragments, 270 KB of payload
  gc();
  const after = process.memoryUsage();
  const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  // Kept as views, the fragments would pin every 63 KiB read (1.9 MB) plus 270,000 objects (tens of MB).
  assert.ok(grown < 1.5 * 1024 * 1024, `grew by ${grown} bytes`);
  protocol.receive(clientFrame({ opcode: 0, payload: 'z' }));
  const events = protocol.takeEvents();
  assert.equal(events.length, 1);
  assert.ok(events[0].type === 'message' && events[0].data.length === 270_002);
});

test('receive accepts a plain Uint8Array chunk', () => {
  const protocol = new WebSocketProtocol({ role: 'server' });
  protocol.receive(new Uint8Array(clientFrame({ opcode: 1, payload: 'u8' })));
  assert.deepEqual(summarize(protocol.takeEvents()), [{ type: 'message', binary: false, data: Buffer.from('u8').toString('hex') }]);
});

test('a connection does not keep its last socket read alive after the events are taken', async () => {
  const protocol = new WebSocketProtocol({ role: 'server' });
  const feedOne = (): WeakRef<ArrayBuffer> => {
    const bytes = Buffer.concat([clientFrame({ opcode: 1, payload: 'message' }), clientFrame({ opcode: 9, payload: 'ping' })]);
    const chunk = Buffer.from(new Uint8Array(bytes).buffer); // its own ArrayBuffer
    protocol.receive(chunk);
    assert.equal(protocol.takeEvents().length, 2);
    protocol.takeOutgoing();
    return new WeakRef(chunk.buffer as ArrayBuffer);
  };
  const ref = feedOne();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.equal(ref.deref(), undefined);
  assert.equal(protocol.failure, null);
});
