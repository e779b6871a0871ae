// permessage-deflate through the sans-I/O core (WebSocketProtocol): RSV1 rules (RFC 7692 §6, RFC 6455 §5.2), the
// RFC 7692 §7.2.3 frames on the wire, decompression bombs against maxPayload (1009), corrupt data and invalid
// inflated UTF-8 (1007), fragmented compressed messages both ways, and broadcast bytes shared across connections.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { negotiatePerMessageDeflate, acceptPerMessageDeflateResponse, type PerMessageDeflateOptions } from '../../src/protocol/deflate-params.js';
import { prepareMessage } from '../../src/protocol/prepared-message.js';
import { WebSocketProtocol, type ProtocolEvent } from '../../src/protocol/protocol.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A masked client frame with a zero key (so the payload bytes are readable): first byte, payload. */
function clientFrame(firstByte: number, payload: Buffer): Buffer {
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([firstByte, 0x80 | len])
      : len < 65536
        ? Buffer.from([firstByte, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([firstByte, 0x80 | 127]), (() => {
            const b = Buffer.alloc(8);
            b.writeBigUInt64BE(BigInt(len));
            return b;
          })()]);
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

function serverWith(options: PerMessageDeflateOptions = {}, offer = 'permessage-deflate; client_max_window_bits', maxPayload?: number): WebSocketProtocol {
  const negotiated = negotiatePerMessageDeflate(offer, { threshold: 0, ...options });
  assert.ok(negotiated !== null);
  return new WebSocketProtocol({ role: 'server', extension: negotiated.extension, maxPayload });
}

function pair(serverOptions: PerMessageDeflateOptions, clientOptions: PerMessageDeflateOptions): { server: WebSocketProtocol; client: WebSocketProtocol } {
  const negotiated = negotiatePerMessageDeflate(
    'permessage-deflate; client_max_window_bits' +
      (clientOptions.serverNoContextTakeover === true ? '; server_no_context_takeover' : '') +
      (clientOptions.clientNoContextTakeover === true ? '; client_no_context_takeover' : ''),
    { threshold: 0, ...serverOptions },
  );
  assert.ok(negotiated !== null);
  const accepted = acceptPerMessageDeflateResponse(negotiated.response, { threshold: 0, ...clientOptions });
  assert.ok('extension' in accepted && accepted.extension !== null);
  return {
    server: new WebSocketProtocol({ role: 'server', extension: negotiated.extension }),
    client: new WebSocketProtocol({ role: 'client', extension: accepted.extension }),
  };
}

function errorOf(events: ProtocolEvent[]): { closeCode: number; code: string } {
  const error = events.find((e) => e.type === 'error');
  assert.ok(error !== undefined && error.type === 'error', `expected an error event, got ${JSON.stringify(events.map((e) => e.type))}`);
  return error.error;
}

function messages(events: ProtocolEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'message' ? [e.data.toString()] : []));
}

/** The close code of the Close frame the server queued (first frame of its output that is a Close). */
function closeCodeSent(p: WebSocketProtocol): number {
  const out = Buffer.concat(p.takeOutgoing());
  let i = 0;
  while (i < out.length) {
    const opcode = out[i] & 0x0f;
    let len = out[i + 1] & 0x7f;
    let off = i + 2;
    if (len === 126) {
      len = out.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      len = Number(out.readBigUInt64BE(off));
      off += 8;
    }
    if (opcode === 0x8) return out.readUInt16BE(off);
    i = off + len;
  }
  return -1;
}

function pump(from: WebSocketProtocol, to: WebSocketProtocol): ProtocolEvent[] {
  for (const chunk of from.takeOutgoing()) to.receive(chunk);
  return to.takeEvents();
}

describe('RSV1 rules', () => {
  test('fails with 1002 on RSV1 set on a continuation frame', () => {
    const server = serverWith();
    server.receive(clientFrame(0x41, hex('f248cd')));
    server.receive(clientFrame(0xc0, hex('c9c90700')));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1002);
    assert.equal(closeCodeSent(server), 1002);
  });

  test('fails with 1002 on RSV1 set on a ping', () => {
    const server = serverWith();
    server.receive(clientFrame(0xc9, Buffer.alloc(0)));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1002);
  });

  test('fails with 1002 on RSV1 set on a close frame', () => {
    const server = serverWith();
    server.receive(clientFrame(0xc8, hex('03e8')));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1002);
  });

  test('fails with 1002 on RSV1 when permessage-deflate was not negotiated', () => {
    const server = new WebSocketProtocol({ role: 'server' });
    server.receive(clientFrame(0xc1, hex('f248cdc9c90700')));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1002);
  });

  test('reads a frame without RSV1 as uncompressed although permessage-deflate was negotiated', () => {
    const server = serverWith();
    server.receive(clientFrame(0x81, Buffer.from('plain')));
    assert.deepEqual(messages(server.takeEvents()), ['plain']);
  });
});

describe('RFC 7692 §7.2.3 frames through the core', () => {
  test('receives "Hello" as c1 07 f2 48 cd c9 c9 07 00, whole and fragmented', () => {
    const server = serverWith();
    server.receive(clientFrame(0xc1, hex('f248cdc9c90700')));
    server.receive(clientFrame(0x41, hex('f248cd')));
    server.receive(clientFrame(0x80, hex('c9c90700')));
    assert.deepEqual(messages(server.takeEvents()), ['Hello', 'Hello']);
  });

  test('sends "Hello" twice as c1 07 f2 48 cd c9 c9 07 00 then c1 05 f2 00 11 00 00 with context takeover', () => {
    const server = serverWith();
    server.sendText('Hello');
    server.sendText('Hello');
    assert.deepEqual(Buffer.concat(server.takeOutgoing()), hex('c107f248cdc9c90700 c105f200110000'));
  });

  test('sends "Hello" twice as the same frame without server context takeover', () => {
    const server = serverWith({}, 'permessage-deflate; server_no_context_takeover');
    server.sendText('Hello');
    server.sendText('Hello');
    assert.deepEqual(Buffer.concat(server.takeOutgoing()), hex('c107f248cdc9c90700 c107f248cdc9c90700'));
  });

  test('sends messages under the threshold without RSV1', () => {
    const server = serverWith({ threshold: 1024 });
    server.sendText('Hello');
    assert.deepEqual(Buffer.concat(server.takeOutgoing()), hex('8105 48656c6c6f'));
  });
});

describe('limits and corrupt data through the core', () => {
  test('closes with 1009 on a decompression bomb: 10 MB of zeros in a small frame, maxPayload 1 MiB', () => {
    const bomb = deflateRawSync(Buffer.alloc(10 * 1024 * 1024));
    assert.ok(bomb.length < 64 * 1024);
    const server = serverWith({}, undefined, 1024 * 1024);
    server.receive(clientFrame(0xc2, bomb));
    const events = server.takeEvents();
    assert.equal(errorOf(events).closeCode, 1009);
    assert.equal(messages(events).length, 0);
    assert.equal(closeCodeSent(server), 1009);
  });

  test('closes with 1009 when a fragmented compressed message inflates past maxPayload over several frames', () => {
    const stream = deflateRawSync(Buffer.alloc(300_000, 0x61));
    const server = serverWith({}, undefined, 200_000);
    const third = Math.ceil(stream.length / 3);
    server.receive(clientFrame(0x41, stream.subarray(0, third)));
    server.receive(clientFrame(0x00, stream.subarray(third, 2 * third)));
    server.receive(clientFrame(0x80, stream.subarray(2 * third)));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1009);
  });

  test('closes with 1007 on compressed data that does not inflate', () => {
    const server = serverWith();
    server.receive(clientFrame(0xc1, hex('ffffffffff')));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1007);
    assert.equal(closeCodeSent(server), 1007);
  });

  test('closes with 1007 on invalid UTF-8 inside a compressed text message', () => {
    const server = serverWith();
    server.receive(clientFrame(0xc1, deflateRawSync(Buffer.from([0x48, 0x69, 0xff, 0x21]))));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1007);
  });

  test('closes with 1007 on invalid UTF-8 in the second compressed fragment of a text message', () => {
    const server = serverWith();
    const stream = deflateRawSync(Buffer.concat([Buffer.from('valid start '), Buffer.from([0xc3, 0x28])]));
    server.receive(clientFrame(0x41, stream.subarray(0, 2)));
    server.receive(clientFrame(0x80, stream.subarray(2)));
    assert.equal(errorOf(server.takeEvents()).closeCode, 1007);
  });
});

describe('messages both ways', () => {
  for (const [name, serverOptions, clientOptions] of [
    ['context takeover', {}, {}],
    ['no context takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true }, {}],
    ['window bits 8', { serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, {}],
  ] as const) {
    test(`exchanges whole and fragmented compressed messages in both directions (${name})`, () => {
      const { server, client } = pair(serverOptions, clientOptions);
      const big = 'the quick brown fox '.repeat(500);
      for (let round = 0; round < 3; round++) {
        client.sendText(big);
        client.sendFragment('text', Buffer.from('part one, '), false);
        client.sendFragment('text', Buffer.from(big), false);
        client.sendFragment('text', Buffer.alloc(0), true);
        assert.deepEqual(messages(pump(client, server)), [big, `part one, ${big}`]);
        server.sendText(big);
        server.sendFragment('text', Buffer.from(big), false);
        server.sendFragment('text', Buffer.from('end'), true);
        assert.deepEqual(messages(pump(server, client)), [big, `${big}end`]);
      }
    });
  }
});

describe('broadcast', () => {
  test('compresses a prepared message once for every connection with the same shareKey and sends the same bytes', () => {
    const a = serverWith({}, 'permessage-deflate; server_no_context_takeover');
    const b = serverWith({}, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
    const c = serverWith({}, 'permessage-deflate');
    const prepared = prepareMessage('{"type":"message","text":"' + 'hello '.repeat(300) + '"}', { binary: false });
    a.sendFrame(prepared);
    b.sendFrame(prepared);
    c.sendFrame(prepared);
    const outA = a.takeOutgoing();
    const outB = b.takeOutgoing();
    const outC = Buffer.concat(c.takeOutgoing());
    assert.equal(outA.length, 1);
    assert.equal(outA[0], outB[0], 'the very same Buffer is queued on both connections');
    assert.equal(outA[0][0], 0xc1);
    assert.ok(outA[0].length < prepared.payload.length / 4);
    assert.equal(outC[0], 0xc1);
  });
});
