// The closing handshake (RFC 6455 §5.5.1, §7.1, §7.4): Close payloads, the echoed Close, closeExpected() per role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadyState, WebSocketProtocol } from '../../src/protocol/index.js';
import { allChunkings, clientFrame, closePayload, frame, hex, parseFrames } from '../helpers/bytes.js';
import { feed, summarize } from './harness.js';

test('§5.5.1 a server answers a Close by echoing its code and reason, then expects TCP to close', () => {
  for (const chunks of allChunkings(clientFrame({ opcode: 8, payload: closePayload(1000, 'bye') }))) {
    const { protocol, events, out } = feed(chunks, { role: 'server' });
    assert.deepEqual(summarize(events), [{ type: 'close', code: 1000, reason: 'bye' }]);
    assert.deepEqual(out, Buffer.concat([hex('88 05'), closePayload(1000, 'bye')]));
    assert.deepEqual(protocol.closeReceived, { code: 1000, reason: 'bye' });
    assert.deepEqual(protocol.closeSent, { code: 1000, reason: 'bye' });
    assert.equal(protocol.readyState, ReadyState.Closed);
    assert.equal(protocol.closeExpected(), true);
    assert.equal(protocol.wasClean, true);
  }
});

test('§7.1.5 an empty Close is reported as 1005 and answered with an empty Close', () => {
  const { events, out } = feed([clientFrame({ opcode: 8 })], { role: 'server' });
  assert.deepEqual(summarize(events), [{ type: 'close', code: 1005, reason: '' }]);
  assert.deepEqual(out, hex('88 00'));
});

test('§7.4 every code that may be on the wire is accepted and echoed', () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    const { events, out } = feed([clientFrame({ opcode: 8, payload: closePayload(code) })], { role: 'server' });
    assert.deepEqual(summarize(events), [{ type: 'close', code, reason: '' }], String(code));
    assert.deepEqual(out, Buffer.concat([hex('88 02'), closePayload(code)]));
  }
});

test('a client answers a server Close but does not expect to close TCP itself', () => {
  const { protocol, events, out } = feed([frame({ opcode: 8, payload: closePayload(1001, 'restart') })], { role: 'client' });
  assert.deepEqual(summarize(events), [{ type: 'close', code: 1001, reason: 'restart' }]);
  const frames = parseFrames(out);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].masked, true);
  assert.deepEqual(frames[0].payload, closePayload(1001, 'restart'));
  assert.equal(protocol.closeExpected(), false);
  protocol.receiveEof();
  assert.equal(protocol.closeExpected(), true);
  assert.equal(protocol.readyState, ReadyState.Closed);
});

test('a client that closes first waits for the server Close, then for the server to end TCP', () => {
  const client = new WebSocketProtocol({ role: 'client' });
  client.close(1000, 'done');
  const sent = parseFrames(client.takeOutgoing());
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].payload, closePayload(1000, 'done'));
  assert.equal(client.readyState, ReadyState.Closing);
  assert.equal(client.closeExpected(), false);
  client.receive(frame({ opcode: 8, payload: closePayload(1000, 'done') }));
  assert.deepEqual(summarize(client.takeEvents()), [{ type: 'close', code: 1000, reason: 'done' }]);
  assert.deepEqual(client.takeOutgoing(), [], 'no second Close');
  assert.equal(client.readyState, ReadyState.Closed);
  assert.equal(client.closeExpected(), false);
  assert.equal(client.wasClean, true);
});

test('a server that closes first expects TCP to close once the client Close arrives', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.close(4000, 'kick');
  assert.deepEqual(server.takeOutgoing(), [Buffer.concat([hex('88 06'), closePayload(4000, 'kick')])]);
  assert.equal(server.closeExpected(), false);
  // Data still arriving before the peer's Close is delivered.
  server.receive(clientFrame({ opcode: 1, payload: 'late' }));
  server.receive(clientFrame({ opcode: 8, payload: closePayload(4000) }));
  assert.deepEqual(summarize(server.takeEvents()), [
    { type: 'message', binary: false, data: Buffer.from('late').toString('hex') },
    { type: 'close', code: 4000, reason: '' },
  ]);
  assert.equal(server.closeExpected(), true);
});

test('after sending a Close, sends, pings and pongs are dropped without throwing', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.close();
  assert.deepEqual(server.takeOutgoing(), [hex('88 00')]);
  server.sendText('x');
  server.sendBinary(Buffer.from('y'));
  server.sendFragment('text', Buffer.from('z'), true);
  server.ping();
  server.pong();
  server.close(1000);
  assert.deepEqual(server.takeOutgoing(), []);
  assert.equal(server.outgoingBytes, 0);
});

test('a ping received after our Close is reported but not answered', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.close(1000);
  server.takeOutgoing();
  server.receive(clientFrame({ opcode: 9, payload: 'p' }));
  assert.deepEqual(summarize(server.takeEvents()), [{ type: 'ping', data: '70' }]);
  assert.deepEqual(server.takeOutgoing(), []);
});

test('bytes after a received Close are ignored', () => {
  const bytes = Buffer.concat([clientFrame({ opcode: 8, payload: closePayload(1000) }), clientFrame({ opcode: 1, payload: 'after' }), hex('ff ff')]);
  const { events } = feed([bytes], { role: 'server' });
  assert.deepEqual(summarize(events), [{ type: 'close', code: 1000, reason: '' }]);
});

test('close() validates its arguments: invalid codes throw TypeError, long reasons RangeError', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5, Number.NaN]) {
    assert.throws(() => server.close(code), TypeError, String(code));
  }
  assert.throws(() => server.close(undefined, 'reason without code'), TypeError);
  assert.throws(() => server.close(1000, 'x'.repeat(124)), RangeError);
  assert.throws(() => server.close(1000, 'é'.repeat(62)), RangeError);
  server.close(1000, 'x'.repeat(123));
  const frames = parseFrames(server.takeOutgoing());
  assert.equal(frames[0].payload.length, 125);
});

test('fail() queues a Close with the given code and reason, stops reading and expects TCP to close', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.fail(1011, 'internal');
  assert.deepEqual(server.takeOutgoing(), [Buffer.concat([hex('88 0a'), closePayload(1011, 'internal')])]);
  assert.equal(server.failure?.closeCode, 1011);
  assert.equal(server.closeExpected(), true);
  server.receive(clientFrame({ opcode: 1, payload: 'ignored' }));
  assert.deepEqual(server.takeEvents(), []);
});

test('fail(1006) aborts without a Close frame', () => {
  const client = new WebSocketProtocol({ role: 'client' });
  client.fail(1006, 'socket error');
  assert.deepEqual(client.takeOutgoing(), []);
  assert.equal(client.closeExpected(), true);
});

test('receiveEof without a Close leaves no close recorded (an abnormal 1006 for the driver)', () => {
  const server = new WebSocketProtocol({ role: 'server' });
  server.receive(clientFrame({ opcode: 1, payload: 'hi' }).subarray(0, 4));
  server.receiveEof();
  assert.equal(server.closeReceived, null);
  assert.equal(server.wasClean, false);
  assert.equal(server.readyState, ReadyState.Closed);
  assert.deepEqual(server.takeEvents(), []);
  server.sendText('dropped');
  assert.deepEqual(server.takeOutgoing(), []);
});
