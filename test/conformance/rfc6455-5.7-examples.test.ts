// RFC 6455 §5.7 examples: raw bytes in, exact events and bytes out, for every split of each stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketProtocol } from '../../src/protocol/index.js';
import { allChunkings, hex } from '../helpers/bytes.js';
import { feed, fixedMask, summarize } from './harness.js';

const HELLO = Buffer.from('Hello').toString('hex');

test('§5.7 a single-frame unmasked text message reaches a client as "Hello"', () => {
  for (const chunks of allChunkings(hex('81 05 48 65 6c 6c 6f'))) {
    const { events, out } = feed(chunks, { role: 'client' });
    assert.deepEqual(summarize(events), [{ type: 'message', binary: false, data: HELLO }]);
    assert.equal(out.length, 0);
  }
});

test('§5.7 a single-frame masked text message reaches a server as "Hello"', () => {
  for (const chunks of allChunkings(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'))) {
    const { events } = feed(chunks, { role: 'server' });
    assert.deepEqual(summarize(events), [{ type: 'message', binary: false, data: HELLO }]);
  }
});

test('§5.7 a fragmented unmasked text message ("Hel" + "lo") is reassembled', () => {
  for (const chunks of allChunkings(hex('01 03 48 65 6c 80 02 6c 6f'))) {
    const { events } = feed(chunks, { role: 'client' });
    assert.deepEqual(summarize(events), [{ type: 'message', binary: false, data: HELLO }]);
  }
});

test('§5.7 an unmasked ping reaches a client, which answers with the masked pong of the example', () => {
  for (const chunks of allChunkings(hex('89 05 48 65 6c 6c 6f'))) {
    const { events, out } = feed(chunks, { role: 'client', maskSource: fixedMask([0x37, 0xfa, 0x21, 0x3d]) });
    assert.deepEqual(summarize(events), [{ type: 'ping', data: HELLO }]);
    assert.deepEqual(out, hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
  }
});

test('§5.7 a masked pong reaches a server as a pong event and is not answered', () => {
  const { events, out } = feed([hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58')], { role: 'server' });
  assert.deepEqual(summarize(events), [{ type: 'pong', data: HELLO }]);
  assert.equal(out.length, 0);
});

test('§5.7 a 256-byte binary message uses the 16-bit length form (82 7e 01 00)', () => {
  const payload = Buffer.alloc(256, 0xab);
  const bytes = Buffer.concat([hex('82 7e 01 00'), payload]);
  for (const chunks of allChunkings(bytes, { maxSplits: 64 })) {
    const { events } = feed(chunks, { role: 'client' });
    assert.deepEqual(summarize(events), [{ type: 'message', binary: true, data: payload.toString('hex') }]);
  }
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendBinary(payload);
  assert.deepEqual(Buffer.concat(server.takeOutgoing()), bytes);
});

test('§5.7 a 64 KiB binary message uses the 64-bit length form (82 7f 00 00 00 00 00 01 00 00)', () => {
  const payload = Buffer.alloc(65536);
  for (let i = 0; i < payload.length; i++) payload[i] = i * 7;
  const bytes = Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 00'), payload]);
  for (const chunks of allChunkings(bytes, { maxSplits: 24 })) {
    const { events } = feed(chunks, { role: 'client' });
    assert.equal(events.length, 1);
    const event = events[0];
    assert.ok(event.type === 'message' && event.binary);
    assert.ok(event.data.equals(payload));
  }
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendBinary(payload);
  assert.deepEqual(Buffer.concat(server.takeOutgoing()), bytes);
});

test('§5.7 a server sends "Hello" as exactly 81 05 48 65 6c 6c 6f', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.sendText('Hello');
  assert.deepEqual(server.takeOutgoing(), [hex('81 05 48 65 6c 6c 6f')]);
  server.sendText(Buffer.from('Hello'));
  assert.deepEqual(server.takeOutgoing(), [hex('81 05 48 65 6c 6c 6f')]);
});

test('§5.7 a client with key 37 fa 21 3d sends "Hello" as exactly the masked example', () => {
  const client = new WebSocketProtocol({ role: 'client', maskSource: fixedMask([0x37, 0xfa, 0x21, 0x3d]) });
  client.sendText('Hello');
  assert.deepEqual(client.takeOutgoing(), [hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')]);
  client.sendText(Buffer.from('Hello'));
  assert.deepEqual(client.takeOutgoing(), [hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')]);
});
