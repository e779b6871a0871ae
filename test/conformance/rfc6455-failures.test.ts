// Every rule that fails the connection (RFC 6455 §5.1, §5.2, §5.4, §5.5, §5.5.1, §7.4, §8.1; maxPayload): for every
// split of the stream, the exact Close frame queued, the error event's stable code, and that input is then ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadyState, WebSocketProtocol } from '../../src/protocol/index.js';
import type { MessageExtension, Role } from '../../src/protocol/index.js';
import { allChunkings, clientFrame, closePayload, frame, hex, parseFrames } from '../helpers/bytes.js';
import { feed } from './harness.js';

/** A stand-in extension that only grants RSV1 (inflation is the deflate engineer's; tested there). */
const identityExtension: MessageExtension = {
  name: 'identity-test',
  responseHeader: 'identity-test',
  decompress: (payload) => Buffer.from(payload),
  compress: () => null,
  compressFragment: (payload) => payload,
  shareKey: null,
  release: () => {},
};

interface FailureCase {
  name: string;
  role: Role;
  bytes: Buffer;
  closeCode: number;
  errorCode: string;
  maxPayload?: number;
  extension?: MessageExtension;
  /** Events expected before the error. */
  before?: number;
}

const s = (spec: Parameters<typeof clientFrame>[0]): Buffer => clientFrame(spec);

const cases: FailureCase[] = [
  // §5.1 masking direction
  { name: 'a server fails an unmasked client frame with 1002', role: 'server', bytes: hex('81 05 48 65 6c 6c 6f'), closeCode: 1002, errorCode: 'WS_EXPECTED_MASK' },
  { name: 'a client fails a masked server frame with 1002', role: 'client', bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), closeCode: 1002, errorCode: 'WS_UNEXPECTED_MASK' },
  // §5.2 reserved bits
  { name: 'fails RSV1 on a text frame when no extension was negotiated', role: 'server', bytes: s({ opcode: 1, rsv1: true, payload: 'x' }), closeCode: 1002, errorCode: 'WS_UNEXPECTED_RSV_1' },
  { name: 'fails RSV2 with 1002', role: 'server', bytes: s({ opcode: 1, rsv2: true, payload: 'x' }), closeCode: 1002, errorCode: 'WS_UNEXPECTED_RSV_2' },
  { name: 'fails RSV3 with 1002', role: 'client', bytes: frame({ opcode: 2, rsv3: true, payload: 'x' }), closeCode: 1002, errorCode: 'WS_UNEXPECTED_RSV_3' },
  { name: 'fails RSV2 even with an extension', role: 'server', bytes: s({ opcode: 1, rsv2: true, payload: 'x' }), closeCode: 1002, errorCode: 'WS_UNEXPECTED_RSV_2', extension: identityExtension },
  { name: 'fails RSV1 on a ping even with an extension', role: 'server', bytes: s({ opcode: 9, rsv1: true, payload: 'x' }), closeCode: 1002, errorCode: 'WS_UNEXPECTED_RSV_1', extension: identityExtension },
  { name: 'fails RSV1 on a continuation frame even with an extension', role: 'server', bytes: Buffer.concat([s({ opcode: 1, fin: false, rsv1: true, payload: 'a' }), s({ opcode: 0, rsv1: true, payload: 'b' })]), closeCode: 1002, errorCode: 'WS_UNEXPECTED_RSV_1', extension: identityExtension },
  // §5.2 opcodes
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): FailureCase => ({ name: `fails reserved opcode ${opcode} with 1002`, role: 'server', bytes: s({ opcode, payload: 'x' }), closeCode: 1002, errorCode: 'WS_INVALID_OPCODE' })),
  // §5.2 lengths
  { name: 'fails a 64-bit length with the most significant bit set', role: 'client', bytes: hex('82 7f 80 00 00 00 00 00 00 01'), closeCode: 1002, errorCode: 'WS_INVALID_PAYLOAD_LENGTH' },
  { name: 'fails a 2^62-byte frame with 1009 before any payload', role: 'client', bytes: hex('82 7f 40 00 00 00 00 00 00 00 00 01 02'), closeCode: 1009, errorCode: 'WS_MESSAGE_TOO_BIG' },
  // §5.5 control frames
  { name: 'fails a ping with FIN = 0 (fragmented control frame)', role: 'server', bytes: s({ opcode: 9, fin: false, payload: 'x' }), closeCode: 1002, errorCode: 'WS_FRAGMENTED_CONTROL_FRAME' },
  { name: 'fails a close with FIN = 0', role: 'client', bytes: frame({ opcode: 8, fin: false }), closeCode: 1002, errorCode: 'WS_FRAGMENTED_CONTROL_FRAME' },
  { name: 'fails a ping with a 126-byte payload', role: 'server', bytes: s({ opcode: 9, payload: Buffer.alloc(126) }), closeCode: 1002, errorCode: 'WS_CONTROL_FRAME_TOO_LONG' },
  { name: 'fails a pong that announces 126 bytes in the 16-bit form', role: 'client', bytes: frame({ opcode: 10, payload: Buffer.alloc(126), lengthForm: 16 }), closeCode: 1002, errorCode: 'WS_CONTROL_FRAME_TOO_LONG' },
  // §5.4 fragmentation
  { name: 'fails a continuation frame with no message in progress', role: 'server', bytes: s({ opcode: 0, payload: 'x' }), closeCode: 1002, errorCode: 'WS_UNEXPECTED_CONTINUATION' },
  { name: 'fails a continuation after a finished message', role: 'server', bytes: Buffer.concat([s({ opcode: 1, payload: 'a' }), s({ opcode: 0, payload: 'b' })]), closeCode: 1002, errorCode: 'WS_UNEXPECTED_CONTINUATION', before: 1 },
  { name: 'fails a new text frame inside a fragmented message', role: 'server', bytes: Buffer.concat([s({ opcode: 1, fin: false, payload: 'a' }), s({ opcode: 1, payload: 'b' })]), closeCode: 1002, errorCode: 'WS_EXPECTED_CONTINUATION' },
  { name: 'fails a new binary frame inside a fragmented message after a ping', role: 'client', bytes: Buffer.concat([frame({ opcode: 2, fin: false, payload: 'a' }), frame({ opcode: 9 }), frame({ opcode: 2, payload: 'b' })]), closeCode: 1002, errorCode: 'WS_EXPECTED_CONTINUATION', before: 1 },
  // §5.5.1 / §7.4 close payloads
  { name: 'fails a close frame with a 1-byte payload', role: 'server', bytes: s({ opcode: 8, payload: Buffer.from([3]) }), closeCode: 1002, errorCode: 'WS_INVALID_CLOSE_PAYLOAD' },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map((code): FailureCase => ({ name: `fails a close frame carrying code ${code} with 1002`, role: 'server', bytes: s({ opcode: 8, payload: closePayload(code) }), closeCode: 1002, errorCode: 'WS_INVALID_CLOSE_CODE' })),
  { name: 'fails a close reason that is not UTF-8 with 1007', role: 'server', bytes: s({ opcode: 8, payload: closePayload(1000, hex('ce ba e1 bd b9 cf 83 ed a0 80')) }), closeCode: 1007, errorCode: 'WS_INVALID_UTF8' },
  // §8.1 UTF-8
  { name: 'fails an invalid UTF-8 text frame with 1007', role: 'server', bytes: s({ opcode: 1, payload: hex('48 65 ff 6c') }), closeCode: 1007, errorCode: 'WS_INVALID_UTF8' },
  { name: 'closes with 1007 on invalid UTF-8 inside a continuation frame', role: 'server', bytes: Buffer.concat([s({ opcode: 1, fin: false, payload: 'ok ' }), s({ opcode: 0, fin: false, payload: hex('c0 af') }), s({ opcode: 0, payload: 'end' })]), closeCode: 1007, errorCode: 'WS_INVALID_UTF8' },
  { name: 'fails a surrogate (ed a0 80) split across fragments', role: 'client', bytes: Buffer.concat([frame({ opcode: 1, fin: false, payload: hex('61 ed') }), frame({ opcode: 0, fin: false, payload: hex('a0') }), frame({ opcode: 0, payload: hex('80') })]), closeCode: 1007, errorCode: 'WS_INVALID_UTF8' },
  { name: 'fails a text message that ends inside a UTF-8 sequence', role: 'server', bytes: Buffer.concat([s({ opcode: 1, fin: false, payload: 'a' }), s({ opcode: 0, payload: hex('e2 82') })]), closeCode: 1007, errorCode: 'WS_INVALID_UTF8' },
  { name: 'fails a single text frame that ends inside a UTF-8 sequence', role: 'server', bytes: s({ opcode: 1, payload: hex('61 62 f0 9f 98') }), closeCode: 1007, errorCode: 'WS_INVALID_UTF8' },
  // maxPayload
  { name: 'closes with 1009 when one frame announces more than maxPayload', role: 'server', bytes: s({ opcode: 2, payload: Buffer.alloc(11) }), closeCode: 1009, errorCode: 'WS_MESSAGE_TOO_BIG', maxPayload: 10 },
  { name: 'closes with 1009 when fragments together pass maxPayload', role: 'server', bytes: Buffer.concat([s({ opcode: 1, fin: false, payload: 'abcdef' }), s({ opcode: 0, payload: 'ghijk' })]), closeCode: 1009, errorCode: 'WS_MESSAGE_TOO_BIG', maxPayload: 10 },
];

function assertFailure(c: FailureCase, chunks: Buffer[]): void {
  const { protocol, events, out } = feed(chunks, { role: c.role, maxPayload: c.maxPayload, extension: c.extension ?? null });
  const errors = events.filter((e) => e.type === 'error');
  assert.equal(errors.length, 1, `${c.name}: one error event`);
  const error = errors[0];
  assert.ok(error.type === 'error');
  assert.equal(error.error.code, c.errorCode, c.name);
  assert.equal(error.error.closeCode, c.closeCode, c.name);
  assert.equal(events.indexOf(error), c.before ?? 0, `${c.name}: events before the error`);
  assert.equal(events.at(-1), error, `${c.name}: nothing after the error`);
  // The Close frame is the last thing queued, carries exactly the code and no reason, masked only by a client.
  const frames = parseFrames(out);
  const close = frames.at(-1);
  assert.ok(close, `${c.name}: a close frame was queued`);
  assert.equal(close.opcode, 8);
  assert.equal(close.masked, c.role === 'client');
  assert.deepEqual(close.payload, closePayload(c.closeCode));
  if (c.role === 'server') assert.deepEqual(out.subarray(out.length - 4), Buffer.from([0x88, 0x02, c.closeCode >> 8, c.closeCode & 0xff]));
  assert.equal(protocol.failure?.code, c.errorCode);
  assert.equal(protocol.readyState, ReadyState.Closing);
  assert.equal(protocol.closeExpected(), true, `${c.name}: after a failure the driver closes TCP`);
  // Input after a failure is ignored.
  protocol.receive(c.role === 'server' ? clientFrame({ opcode: 1, payload: 'late' }) : frame({ opcode: 1, payload: 'late' }));
  assert.deepEqual(protocol.takeEvents(), []);
  assert.deepEqual(protocol.takeOutgoing(), []);
}

for (const c of cases) {
  test(c.name, () => {
    for (const chunks of allChunkings(c.bytes, { maxSplits: 64 })) assertFailure(c, chunks);
  });
}

test('fails an over-long frame as soon as its header arrives, before the payload', () => {
  const protocol = new WebSocketProtocol({ role: 'server', maxPayload: 1024 });
  protocol.receive(clientFrame({ opcode: 2, payload: Buffer.alloc(2048) }).subarray(0, 8));
  const events = protocol.takeEvents();
  assert.equal(events.length, 1);
  assert.ok(events[0].type === 'error' && events[0].error.closeCode === 1009);
});

test('fails invalid UTF-8 as soon as the bad byte arrives, mid-frame, not at the end of the message', () => {
  // One 1000-byte text frame; the invalid byte is in the first half; only the first half is delivered.
  const payload = Buffer.alloc(1000, 0x61);
  payload[100] = 0xff;
  const bytes = clientFrame({ opcode: 1, payload });
  const protocol = new WebSocketProtocol({ role: 'server' });
  protocol.receive(bytes.subarray(0, 500));
  const events = protocol.takeEvents();
  assert.equal(events.length, 1);
  assert.ok(events[0].type === 'error' && events[0].error.code === 'WS_INVALID_UTF8');
});

test('fails invalid UTF-8 in the first fragment before the message ends', () => {
  const protocol = new WebSocketProtocol({ role: 'client' });
  protocol.receive(frame({ opcode: 1, fin: false, payload: hex('f4 90 80 80') }));
  const events = protocol.takeEvents();
  assert.equal(events.length, 1);
  assert.ok(events[0].type === 'error' && events[0].error.closeCode === 1007);
});

test('a failure after a Close was sent queues no second Close', () => {
  const protocol = new WebSocketProtocol({ role: 'server' });
  protocol.close(1000);
  assert.equal(parseFrames(protocol.takeOutgoing()).length, 1);
  protocol.receive(clientFrame({ opcode: 7 }));
  const events = protocol.takeEvents();
  assert.ok(events[0].type === 'error' && events[0].error.code === 'WS_INVALID_OPCODE');
  assert.deepEqual(protocol.takeOutgoing(), []);
  assert.equal(protocol.closeExpected(), true);
});
