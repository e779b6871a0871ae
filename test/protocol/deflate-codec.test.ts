// The permessage-deflate codec on raw bytes: RFC 7692 §7.2.3 examples, context takeover per side, the tail, window
// bits 8, decompression bombs (1009) and corrupt data (1007), and the shared contexts' isolation between connections.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as zlibConstants, deflateRawSync, inflateRawSync as zlibInflateRawSync, type ZlibOptions } from 'node:zlib';
import { ProtocolError } from '../../src/protocol/errors.js';
import { PerMessageDeflate, type PerMessageDeflateInit } from '../../src/protocol/permessage-deflate.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const TAIL = hex('0000ffff');

/** Raw inflate of a flushed (not finished) stream, as a permessage-deflate receiver sees it. */
const inflateRawSync = (data: Buffer, options: ZlibOptions = {}): Buffer =>
  zlibInflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH, ...options });

/** Random letters from a seeded generator: repeats only where a test puts them. */
function randomLetters(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 97 + ((x >>> 16) % 26);
  }
  return out;
}

// An 8-bit window checked strictly: a 64-byte output buffer makes zlib resolve every longer distance in its window.
const STRICT_8_BIT: ZlibOptions = { windowBits: 8, chunkSize: 64 };

function codec(overrides: Partial<PerMessageDeflateInit> = {}): PerMessageDeflate {
  return new PerMessageDeflate({
    role: 'server',
    responseHeader: 'permessage-deflate',
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    threshold: 0,
    ...overrides,
  });
}

function inflated(result: Buffer | ProtocolError): Buffer {
  if (result instanceof ProtocolError) assert.fail(`unexpected ${result.code} ${result.closeCode}: ${result.message}`);
  return result;
}

function failure(result: Buffer | ProtocolError): ProtocolError {
  if (!(result instanceof ProtocolError)) assert.fail(`expected a ProtocolError, got ${result.length} bytes`);
  return result;
}

/** Text with repetitions at many distances, compressible but not trivially. */
function sampleText(seed: number, length: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"id":', '"room":"lobby"', ',"text":"hello"}', 'epsilon', '\n'];
  let out = '';
  let x = seed * 2654435761;
  while (out.length < length) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += words[x % words.length];
    if (x % 7 === 0) out += String(x % 1000);
  }
  return Buffer.from(out.slice(0, length));
}

describe('RFC 7692 §7.2.3 examples', () => {
  test('inflates "Hello" from f2 48 cd c9 c9 07 00 (§7.2.3.1)', (t) => {
    const c = codec();
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
  });

  test('inflates a compressed message whose frames include empty ones (first, middle and last)', (t) => {
    const c = codec();
    t.after(() => c.release());
    const parts = [hex(''), hex('f248cd'), hex(''), hex('c9c90700'), hex('')];
    const out = parts.map((part, i) => inflated(c.decompress(part, i === parts.length - 1, 1000)));
    assert.equal(Buffer.concat(out).toString(), 'Hello');
    assert.equal(inflated(c.decompress(hex('f200110000'), true, 1000)).toString(), 'Hello', 'context kept after the message');
  });

  test('inflates "Hello" fragmented as f2 48 cd | c9 c9 07 00 (§7.2.3.1)', (t) => {
    const c = codec({ clientNoContextTakeover: true });
    t.after(() => c.release());
    const first = inflated(c.decompress(hex('f248cd'), false, 1000));
    const second = inflated(c.decompress(hex('c9c90700'), true, 1000 - first.length));
    assert.equal(Buffer.concat([first, second]).toString(), 'Hello');
  });

  test('compresses "Hello" to f2 48 cd c9 c9 07 00 and the second one to f2 00 11 00 00 with context takeover (§7.2.3.2)', (t) => {
    const c = codec({ role: 'client' });
    t.after(() => c.release());
    assert.deepEqual(c.compress(Buffer.from('Hello')), hex('f248cdc9c90700'));
    assert.deepEqual(c.compress(Buffer.from('Hello')), hex('f200110000'));
  });

  test('inflates the shared-sliding-window pair f2 48 cd c9 c9 07 00 then f2 00 11 00 00 (§7.2.3.2)', (t) => {
    const c = codec();
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
    assert.equal(inflated(c.decompress(hex('f200110000'), true, 1000)).toString(), 'Hello');
  });

  test('compresses every "Hello" to f2 48 cd c9 c9 07 00 without context takeover', (t) => {
    const c = codec({ serverNoContextTakeover: true });
    t.after(() => c.release());
    for (let i = 0; i < 3; i++) assert.deepEqual(c.compress(Buffer.from('Hello')), hex('f248cdc9c90700'));
  });

  test('fails the back-reference f2 00 11 00 00 with 1007 when the peer promised no context takeover', (t) => {
    const c = codec({ clientNoContextTakeover: true });
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
    assert.equal(failure(c.decompress(hex('f200110000'), true, 1000)).closeCode, 1007);
  });

  test('inflates a DEFLATE block with no compression (§7.2.3.3)', (t) => {
    const c = codec();
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('000500faff48656c6c6f00'), true, 1000)).toString(), 'Hello');
  });

  test('inflates a block with BFINAL set to 1 and keeps working for the next message (§7.2.3.4)', (t) => {
    const c = codec();
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('f348cdc9c90700 00'), true, 1000)).toString(), 'Hello');
    assert.equal(inflated(c.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
  });

  test('inflates two DEFLATE blocks in one message (§7.2.3.5)', (t) => {
    const c = codec();
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('f24805000000ffffcac9c90700'), true, 1000)).toString(), 'Hello');
  });

  test('inflates the single octet 00 to an empty message (§7.2.3.6)', (t) => {
    const c = codec();
    t.after(() => c.release());
    assert.equal(inflated(c.decompress(hex('00'), true, 1000)).length, 0);
    assert.equal(inflated(c.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
  });
});

describe('compression', () => {
  test('removes the 00 00 ff ff tail: raw inflate of the output plus the tail gives the message back', (t) => {
    const c = codec();
    t.after(() => c.release());
    const message = sampleText(1, 5000);
    const out = c.compress(message);
    assert.ok(out !== null);
    assert.notDeepEqual(out.subarray(-4), TAIL);
    assert.deepEqual(inflateRawSync(Buffer.concat([out, TAIL])), message);
  });

  test('sends messages under the threshold uncompressed (null) and compresses those at or above it', (t) => {
    const c = codec({ threshold: 1024 });
    t.after(() => c.release());
    assert.equal(c.compress(Buffer.alloc(1023, 97)), null);
    assert.ok(c.compress(Buffer.alloc(1024, 97)) !== null);
  });

  test('compresses an empty message after a flushed one so that it inflates to nothing', (t) => {
    const sender = codec({ role: 'client' });
    const receiver = codec();
    t.after(() => {
      sender.release();
      receiver.release();
    });
    for (const text of ['Hello', '', '', 'Hello again', '']) {
      const out = sender.compress(Buffer.from(text));
      assert.ok(out !== null);
      assert.equal(inflated(receiver.decompress(out, true, 1000)).toString(), text);
    }
  });

  test('streams a fragmented message whose last fragment is empty, then another message, with context takeover', (t) => {
    const sender = codec({ role: 'client' });
    const receiver = codec();
    t.after(() => {
      sender.release();
      receiver.release();
    });
    const parts = [sampleText(2, 3000), sampleText(3, 10), Buffer.alloc(0)];
    const received: Buffer[] = [];
    parts.forEach((part, i) => {
      const fin = i === parts.length - 1;
      received.push(inflated(receiver.decompress(sender.compressFragment(part, fin), fin, 1_000_000)));
    });
    assert.deepEqual(Buffer.concat(received), Buffer.concat(parts));
    const next = sampleText(2, 3000);
    assert.deepEqual(inflated(receiver.decompress(sender.compress(next) ?? assert.fail(), true, 1_000_000)), next);
  });

  test('keeps the context between messages with context takeover: a repeated message compresses smaller', (t) => {
    const c = codec();
    t.after(() => c.release());
    const message = sampleText(4, 4000);
    const first = c.compress(message);
    const second = c.compress(message);
    assert.ok(first !== null && second !== null);
    assert.ok(second.length < first.length / 4, `${second.length} vs ${first.length}`);
  });

  test('resets after every message without server context takeover: repeated messages give identical bytes', (t) => {
    const c = codec({ serverNoContextTakeover: true });
    t.after(() => c.release());
    const message = sampleText(5, 4000);
    const first = c.compress(message);
    assert.deepEqual(c.compress(message), first);
    assert.deepEqual(inflateRawSync(Buffer.concat([first ?? assert.fail(), TAIL])), message);
  });

  test('a streamed message on one connection does not disturb a shared context used by another in between', (t) => {
    const a = codec({ serverNoContextTakeover: true });
    const b = codec({ serverNoContextTakeover: true });
    t.after(() => {
      a.release();
      b.release();
    });
    const partA1 = sampleText(6, 2000);
    const partA2 = sampleText(7, 2000);
    const outA1 = a.compressFragment(partA1, false);
    const messageB = sampleText(8, 2000);
    const outB = b.compress(messageB);
    const outA2 = a.compressFragment(partA2, true);
    assert.deepEqual(inflateRawSync(Buffer.concat([outB ?? assert.fail(), TAIL])), messageB);
    assert.deepEqual(inflateRawSync(Buffer.concat([outA1, outA2, TAIL])), Buffer.concat([partA1, partA2]));
  });

  test('gives the same shareKey to connections that can share compressed bytes, and none with context takeover', () => {
    const a = codec({ serverNoContextTakeover: true, clientMaxWindowBits: 10 });
    const b = codec({ serverNoContextTakeover: true });
    const c = codec({ serverNoContextTakeover: true, serverMaxWindowBits: 12 });
    const d = codec({ serverNoContextTakeover: true, level: 1 });
    assert.ok(a.shareKey !== null);
    assert.equal(a.shareKey, b.shareKey);
    assert.notEqual(a.shareKey, c.shareKey);
    assert.notEqual(a.shareKey, d.shareKey);
    assert.equal(codec().shareKey, null);
    assert.equal(codec({ role: 'client', serverNoContextTakeover: true }).shareKey, null);
  });
});

describe('inflation limits and corrupt data', () => {
  test('fails a decompression bomb (10 MB of zeros in a small frame) with 1009 at a 1 MiB limit', (t) => {
    const bomb = deflateRawSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 20_000);
    const c = codec();
    t.after(() => c.release());
    const error = failure(c.decompress(bomb, true, 1024 * 1024));
    assert.equal(error.closeCode, 1009);
    assert.equal(error.code, 'WS_MESSAGE_TOO_BIG');
  });

  test('stops inflating a 64 MiB bomb at the limit: the bytes it allocates stay near the 1 MiB limit', (t) => {
    // 64 MiB of zeros deflate to about 64 KB; Buffer.alloc of zeros is cheap (calloc) and freed before measuring.
    let zeros: Buffer | null = Buffer.alloc(64 * 1024 * 1024);
    const bomb = deflateRawSync(zeros, { level: 1 });
    zeros = null;
    const c = codec();
    t.after(() => c.release());
    const before = process.memoryUsage().arrayBuffers;
    const error = failure(c.decompress(bomb, true, 1024 * 1024));
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.equal(error.closeCode, 1009);
    // Holding the inflated message (or even a tenth of it) would show here; the limit plus the scratch buffer does not.
    assert.ok(grown < 8 * 1024 * 1024, `decompress allocated ${grown} bytes`);
  });

  test('fails with 1009 when the inflated bytes pass the limit by one, and accepts them exactly at the limit', (t) => {
    const message = sampleText(9, 3000);
    const sender = codec({ role: 'client', clientNoContextTakeover: true });
    const receiver = codec({ clientNoContextTakeover: true });
    t.after(() => {
      sender.release();
      receiver.release();
    });
    const payload = sender.compress(message) ?? assert.fail();
    assert.equal(failure(receiver.decompress(payload, true, message.length - 1)).closeCode, 1009);
    assert.deepEqual(inflated(receiver.decompress(payload, true, message.length)), message);
  });

  test('counts the limit per frame: a fragmented bomb fails in the frame that passes it', (t) => {
    const c = codec();
    t.after(() => c.release());
    const stream = deflateRawSync(Buffer.alloc(4 * 1024 * 1024), { level: 9 });
    const half = stream.length >> 1;
    const first = inflated(c.decompress(stream.subarray(0, half), false, 4 * 1024 * 1024));
    assert.ok(first.length > 0);
    assert.equal(failure(c.decompress(stream.subarray(half), true, 1024)).closeCode, 1009);
  });

  test('fails invalid compressed data with 1007 (WS_INVALID_COMPRESSED_DATA)', (t) => {
    const c = codec();
    t.after(() => c.release());
    const error = failure(c.decompress(hex('deadbeefdeadbeef'), true, 1000));
    assert.equal(error.closeCode, 1007);
    assert.equal(error.code, 'WS_INVALID_COMPRESSED_DATA');
  });

  test('a corrupt message on one connection leaves the shared inflater working for the next', (t) => {
    const a = codec({ clientNoContextTakeover: true });
    const b = codec({ clientNoContextTakeover: true });
    t.after(() => {
      a.release();
      b.release();
    });
    assert.equal(failure(a.decompress(hex('ff'), true, 1000)).closeCode, 1007);
    assert.equal(failure(a.decompress(deflateRawSync(Buffer.alloc(100_000)), true, 10)).closeCode, 1009);
    assert.equal(inflated(b.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
  });

  test('fragments of one connection survive whole messages of another inflated in between', (t) => {
    const a = codec({ clientNoContextTakeover: true });
    const b = codec({ clientNoContextTakeover: true });
    t.after(() => {
      a.release();
      b.release();
    });
    const first = inflated(a.decompress(hex('f248cd'), false, 1000));
    assert.equal(inflated(b.decompress(hex('f248cdc9c90700'), true, 1000)).toString(), 'Hello');
    const second = inflated(a.decompress(hex('c9c90700'), true, 1000));
    assert.equal(Buffer.concat([first, second]).toString(), 'Hello');
  });
});

describe('window bits', () => {
  test('an 8-bit inflater really rejects a distance of 300 (so the next test means something)', () => {
    const block = randomLetters(10, 300);
    const stream = deflateRawSync(Buffer.concat([block, block]), { windowBits: 15 });
    assert.throws(() => inflateRawSync(stream, STRICT_8_BIT), /distance too far back/);
  });

  test('compresses with window bits 8 into what an 8-bit inflater accepts, across messages with context takeover', (t) => {
    const c = codec({ serverMaxWindowBits: 8 });
    t.after(() => c.release());
    const sent: Buffer[] = [];
    const history: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const block = randomLetters(100 + i, 200 + i * 10);
      const message = Buffer.concat([block, block, randomLetters(i, 300), block.subarray(0, 100)]);
      sent.push(message);
      history.push(c.compress(message) ?? assert.fail(), TAIL);
    }
    // The whole conversation through one strict 8-bit raw inflater is what the peer does with context takeover.
    assert.deepEqual(inflateRawSync(Buffer.concat(history), STRICT_8_BIT), Buffer.concat(sent));
  });

  test('inflates what a sender with a true 8-bit window may produce (a 256-byte distance)', (t) => {
    const c = codec({ clientMaxWindowBits: 8 });
    t.after(() => c.release());
    const block = randomLetters(11, 256);
    // zlib's 9-bit raw deflate finds distances up to 250 only; build a 256-byte match by hand: a stored block with
    // the 256 letters, then a fixed-Huffman block copying 256 bytes from distance 256.
    const stored = Buffer.concat([hex('000001fffe'), block]);
    const copy = fixedHuffmanCopy(256, 256);
    const out = inflated(c.decompress(Buffer.concat([stored, copy]), true, 10_000));
    assert.deepEqual(out, Buffer.concat([block, block]));
  });

  test('inflates what every window size from 8 to 15 produces, with and without context takeover', (t) => {
    for (const bits of [8, 9, 10, 11, 12, 13, 14, 15]) {
      for (const noTakeover of [false, true]) {
        const sender = codec({ role: 'client', clientMaxWindowBits: bits, clientNoContextTakeover: noTakeover });
        const receiver = codec({ clientMaxWindowBits: bits, clientNoContextTakeover: noTakeover });
        t.after(() => {
          sender.release();
          receiver.release();
        });
        for (let i = 0; i < 5; i++) {
          const message = sampleText(bits * 10 + i, 3000);
          const out = sender.compress(message) ?? assert.fail();
          assert.deepEqual(inflated(receiver.decompress(out, true, 1_000_000)), message, `bits ${bits} message ${i}`);
        }
      }
    }
  });
});

/**
 * Writes a non-final fixed-Huffman block (RFC 1951 §3.2.6) holding one match of `length` (3..258) at `distance`
 * (1..32768) and the end-of-block code, padded to a byte boundary with an empty stored block's header.
 */
function fixedHuffmanCopy(length: number, distance: number): Buffer {
  const bits: number[] = [];
  const put = (value: number, count: number): void => {
    for (let i = 0; i < count; i++) bits.push((value >> i) & 1);
  };
  const putHuffman = (code: number, count: number): void => {
    for (let i = count - 1; i >= 0; i--) bits.push((code >> i) & 1);
  };
  put(0, 1); // BFINAL 0
  put(1, 2); // BTYPE 01: fixed Huffman
  // Length codes 257..285 (RFC 1951 §3.2.5).
  const lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  const lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  let li = lengthBase.length - 1;
  while (lengthBase[li] > length) li--;
  const symbol = 257 + li;
  // Fixed codes: 256-279 are 7 bits from 0; 280-287 are 8 bits from 0xc0.
  if (symbol <= 279) putHuffman(symbol - 256, 7);
  else putHuffman(0xc0 + symbol - 280, 8);
  put(length - lengthBase[li], lengthExtra[li]);
  const distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
  let di = distBase.length - 1;
  while (distBase[di] > distance) di--;
  putHuffman(di, 5);
  put(distance - distBase[di], di < 4 ? 0 : (di >> 1) - 1);
  putHuffman(0, 7); // end of block (256)
  put(0, 1); // an empty stored block: BFINAL 0
  put(0, 2); // BTYPE 00; its LEN/NLEN are the 00 00 ff ff tail the receiver appends
  while (bits.length % 8 !== 0) bits.push(0);
  const out = Buffer.alloc(bits.length / 8);
  bits.forEach((bit, i) => {
    out[i >> 3] |= bit << (i & 7);
  });
  return out;
}

describe('memory', () => {
  test('holds no private zlib context without context takeover, even after messages both ways', () => {
    const c = codec({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    assert.equal(c.privateContexts, 0);
    const out = c.compress(sampleText(20, 3000)) ?? assert.fail();
    inflated(c.decompress(hex('f248cdc9c90700'), true, 1000));
    assert.ok(out.length > 0);
    assert.equal(c.privateContexts, 0);
  });

  test('borrows a private context for a fragmented message only while it lasts', () => {
    const c = codec({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    inflated(c.decompress(hex('f248cd'), false, 1000));
    c.compressFragment(Buffer.from('streamed '), false);
    assert.equal(c.privateContexts, 2);
    inflated(c.decompress(hex('c9c90700'), true, 1000));
    c.compressFragment(Buffer.from('end'), true);
    assert.equal(c.privateContexts, 0);
  });

  test('creates context-takeover contexts on first use per direction and frees them on release()', () => {
    const c = codec();
    assert.equal(c.privateContexts, 0, 'nothing before the first message');
    c.compress(sampleText(21, 2000));
    assert.equal(c.privateContexts, 1);
    inflated(c.decompress(hex('f248cdc9c90700'), true, 1000));
    assert.equal(c.privateContexts, 2);
    c.release();
    assert.equal(c.privateContexts, 0);
  });
});
