// Borrowed reads (`WebSocketProtocol.receive(chunk, true)`): a transport that reads every socket into one reused
// buffer. Differential: the same byte stream, split the same way, gives the same events and the same output bytes
// whether each chunk is the core's own or lent and scribbled over as soon as `receive` returns. Streams mix short and
// long messages (the long ones read where they lie), fragments with control frames between them, compressed
// messages, and end in a Close or in a protocol violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { negotiatePerMessageDeflate } from '../../src/protocol/deflate-params.js';
import { sharedReadBuffer } from '../../src/protocol/mask.js';
import { WebSocketProtocol, type ProtocolEvent, type ProtocolOptions } from '../../src/protocol/protocol.js';
import { clientFrame, closePayload, frame } from '../helpers/bytes.js';
import { summarize } from '../conformance/harness.js';
import { seededRandom as random } from '../helpers/seeded-random.js';

function compress(payload: Buffer): Buffer {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4); // RFC 7692 §7.2.1: the trailing 00 00 ff ff is removed
}

/** stream builds one client byte stream from `seed`: about 40 messages, some fragmented, some compressed. */
function stream(seed: number, compressed: boolean, ending: 'close' | 'violation'): Buffer {
  const next = random(seed);
  const size = (): number => {
    const r = next();
    return r < 0.5 ? Math.floor(next() * 125) : r < 0.8 ? Math.floor(next() * 4000) : 16_000 + Math.floor(next() * 90_000);
  };
  const frames: Buffer[] = [];
  for (let m = 0; m < 40; m++) {
    const isText = next() < 0.4;
    const n = size();
    const payload = isText
      ? Buffer.from('κόσμε ✓ 𝄞 ascii '.repeat(Math.ceil(n / 20) + 1).slice(0, Math.max(1, Math.floor(n / 2))))
      : Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))); // incompressible: compressed frames stay long
    const opcode = isText ? 1 : 2;
    const deflated = compressed && next() < 0.6;
    const body = deflated ? compress(payload) : payload;
    const pieces = next() < 0.3 ? 1 + Math.floor(next() * 4) : 1;
    // Text fragments are cut anywhere, inside characters too (valid UTF-8 across fragments).
    for (let p = 0; p < pieces; p++) {
      const start = Math.floor((body.length * p) / pieces);
      const end = Math.floor((body.length * (p + 1)) / pieces);
      frames.push(clientFrame({ opcode: p === 0 ? opcode : 0, fin: p === pieces - 1, rsv1: deflated && p === 0, payload: body.subarray(start, end) }));
      if (next() < 0.2) frames.push(clientFrame({ opcode: next() < 0.5 ? 9 : 10, payload: Buffer.from(`ctl ${m}.${p}`) }));
    }
  }
  if (ending === 'close') frames.push(clientFrame({ opcode: 8, payload: closePayload(1000, 'done') }));
  else frames.push(clientFrame({ opcode: 1, payload: Buffer.from([0x68, 0x69, 0xff, 0x21]) })); // invalid UTF-8: 1007
  // An unmasked frame after it must never be looked at (the connection already failed or closed).
  frames.push(frame({ opcode: 2, payload: Buffer.alloc(10) }));
  return Buffer.concat(frames);
}

/** splits cuts `length` bytes into reads from 1 byte to 80 KiB, the way a socket might deliver them. */
function splits(length: number, seed: number): number[] {
  const next = random(seed * 31 + 7);
  const cuts: number[] = [];
  for (let at = 0; at < length; ) {
    const r = next();
    const n = r < 0.2 ? 1 + Math.floor(next() * 16) : r < 0.5 ? 1 + Math.floor(next() * 16_384) : 16_385 + Math.floor(next() * 65_536);
    at = Math.min(length, at + n);
    cuts.push(at);
  }
  return cuts;
}

interface Run {
  events: ProtocolEvent[];
  out: Buffer;
}

function options(compressed: boolean): ProtocolOptions {
  if (!compressed) return { role: 'server' };
  const negotiated = negotiatePerMessageDeflate('permessage-deflate; client_max_window_bits', { threshold: 0 });
  assert.ok(negotiated !== null);
  return { role: 'server', extension: negotiated.extension };
}

/** run feeds `bytes` cut at `cuts`: owned copies, or lent through `lender` and scribbled over after each read. */
function run(bytes: Buffer, cuts: number[], compressed: boolean, lender: Buffer | null): Run {
  const protocol = new WebSocketProtocol(options(compressed));
  const events: ProtocolEvent[] = [];
  const out: Buffer[] = [];
  let start = 0;
  for (const end of cuts) {
    const piece = bytes.subarray(start, end);
    start = end;
    if (lender === null) {
      protocol.receive(Buffer.from(piece));
    } else {
      // Reads land at a moving offset, as consecutive reads of a real buffer would not, to vary alignment.
      const at = end % 13;
      piece.copy(lender, at);
      protocol.receive(lender.subarray(at, at + piece.length), true);
      lender.fill(0xee);
    }
    events.push(...protocol.takeEvents());
    out.push(...protocol.takeOutgoing());
    if (lender !== null) lender.fill(0xdd);
  }
  return { events, out: Buffer.concat(out) };
}

for (const compressed of [false, true]) {
  for (const ending of ['close', 'violation'] as const) {
    test(`borrowed reads give the same events and output as owned ones (${compressed ? 'with' : 'without'} permessage-deflate, ending in a ${ending})`, () => {
      const lenders: [string, Buffer][] = [
        ['the WebAssembly read area', sharedReadBuffer()],
        ['a plain buffer', Buffer.alloc(sharedReadBuffer().length)],
      ];
      for (let seed = 1; seed <= 12; seed++) {
        const bytes = stream(seed, compressed, ending);
        const cuts = splits(bytes.length, seed);
        const owned = run(bytes, cuts, compressed, null);
        const expected = summarize(owned.events);
        // The streams are meant to exercise the paths: messages, control frames and the right ending.
        assert.ok(expected.filter((e) => (e as { type: string }).type === 'message').length >= 40, `seed ${seed}: every message arrived`);
        assert.deepEqual(expected.at(-1), ending === 'close' ? { type: 'close', code: 1000, reason: 'done' } : { type: 'error', code: 'WS_INVALID_UTF8', closeCode: 1007 });
        for (const [name, lender] of lenders) {
          const borrowed = run(bytes, cuts, compressed, lender);
          assert.deepEqual(summarize(borrowed.events), expected, `seed ${seed}, ${name}: events`);
          assert.deepEqual(borrowed.out, owned.out, `seed ${seed}, ${name}: bytes written`);
        }
      }
    });
  }
}

test('a borrowed read that ends inside a frame header or a control frame leaves those bytes copied, in every header form', () => {
  const lender = sharedReadBuffer();
  const big = clientFrame({ opcode: 2, payload: Buffer.alloc(20_000, 0x42) });
  const tail = [
    clientFrame({ opcode: 9, payload: Buffer.from('ping payload') }),
    clientFrame({ opcode: 1, payload: Buffer.from('seven-bit length') }),
    clientFrame({ opcode: 2, payload: Buffer.alloc(300, 0x43) }),
    clientFrame({ opcode: 2, payload: Buffer.alloc(70_000, 0x44) }),
    clientFrame({ opcode: 8, payload: closePayload(1000, 'done') }),
  ];
  const bytes = Buffer.concat([big, ...tail]);
  let frameStart = big.length;
  for (const f of tail) {
    // Every cut inside the first 16 bytes of the frame: its header (2 to 14 bytes) and the start of its payload.
    for (let cut = frameStart + 1; cut < frameStart + Math.min(16, f.length); cut++) {
      const cuts = [cut, bytes.length];
      const owned = run(bytes, cuts, false, null);
      assert.deepEqual(summarize(run(bytes, cuts, false, lender).events), summarize(owned.events), `cut at ${cut - frameStart} bytes into a frame`);
    }
    frameStart += f.length;
  }
});
