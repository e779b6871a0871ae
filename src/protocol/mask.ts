/**
 * Masking (RFC 6455 §5.3): XOR of the payload with a 4-byte key, and the client's supply of keys.
 *
 * `maskRange` works in place, a 32-bit word at a time over the aligned middle of the range (bytes for the unaligned
 * head and the tail), which is what ws's bufferutil does natively; payloads under 256 bytes take an unrolled byte
 * loop, which beats making a typed-array view for them. Keys come from one crypto-random pool per process
 * (`fillMaskKey`), refilled with `randomFillSync` when used up, instead of `randomBytes(4)` per frame.
 * RFC 6455 §5.3: "The masking key needs to be unpredictable; thus, the masking key MUST be derived from a strong
 * source of entropy". `maskWordInto` unmasks while moving bytes to another buffer (a message's destination), so that
 * bytes which must be copied anyway are not also unmasked in place first. Not here: deciding who masks (protocol.ts) or checking the mask bit (frame-parser.ts).
 */
import { randomFillSync } from 'node:crypto';
import { MASK_POOL_BYTES } from './limits.js';
import { READ_AREA_BYTES, maskSimd, maskSimdInto, simdReadArea } from './mask-simd.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** From this many bytes a Uint32Array view pays for itself; below it an unrolled byte loop is faster (measured). */
const WORD_LOOP_MIN = 256;
/** From this many bytes the WebAssembly SIMD path (mask-simd.ts) beats the word loop, copies included (measured). */
const SIMD_MIN = 1024;

/**
 * maskRange XORs `data[start..end)` in place with the 4-byte key at `key[keyOffset..keyOffset+4)`, the first byte
 * using key byte `phase` (0-3): masking and unmasking are the same operation.
 */
export function maskRange(data: Uint8Array, start: number, end: number, key: Uint8Array, keyOffset: number, phase: number): void {
  maskWord(data, start, end, maskKeyWord(key, keyOffset), phase);
}

/** maskKeyWord packs the 4-byte key at `key[offset..offset+4)` into one number (key byte j in bits 8j..8j+7). */
export function maskKeyWord(key: Uint8Array, offset: number): number {
  return key[offset] | (key[offset + 1] << 8) | (key[offset + 2] << 16) | (key[offset + 3] << 24);
}

/** maskWord is `maskRange` with the key packed by `maskKeyWord` (a parser keeps it in a number field). */
export function maskWord(data: Uint8Array, start: number, end: number, keyWord: number, phase: number): void {
  let i = start;
  let p = phase & 3;
  if (maskSimd !== null && end - start >= SIMD_MIN && LITTLE_ENDIAN) {
    maskSimd(data, start, end, p === 0 ? keyWord : (keyWord >>> (p << 3)) | (keyWord << (32 - (p << 3))));
    return;
  }
  if (end - start >= WORD_LOOP_MIN && LITTLE_ENDIAN) {
    const lead = (4 - ((data.byteOffset + start) & 3)) & 3;
    for (const stop = start + lead; i < stop; i++, p = (p + 1) & 3) data[i] ^= keyWord >>> (p << 3);
    const words = (end - i) >>> 2;
    // Rotated so that its low byte is key byte p: on a little-endian machine that byte meets data[i].
    const word = p === 0 ? keyWord : (keyWord >>> (p << 3)) | (keyWord << (32 - (p << 3)));
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words * 4;
  } else {
    const k0 = (keyWord >>> (p << 3)) & 0xff;
    const k1 = (keyWord >>> (((p + 1) & 3) << 3)) & 0xff;
    const k2 = (keyWord >>> (((p + 2) & 3) << 3)) & 0xff;
    const k3 = (keyWord >>> (((p + 3) & 3) << 3)) & 0xff;
    for (const stop = end - 3; i < stop; i += 4) {
      data[i] ^= k0;
      data[i + 1] ^= k1;
      data[i + 2] ^= k2;
      data[i + 3] ^= k3;
    }
  }
  for (; i < end; i++, p = (p + 1) & 3) data[i] ^= keyWord >>> (p << 3);
}

/**
 * maskWordInto writes `source[start..end)` masked with the packed key (first byte using key byte `phase`) into
 * `target` from `targetStart`, leaving `source` unchanged; the ranges must not overlap. Long ranges go through
 * WebAssembly in one pass (copy in, XOR, copy out into `target`: two copies, as unmasking in place costs); short ones
 * are copied and then masked in place in `target`, which is in cache by then.
 */
export function maskWordInto(source: Uint8Array, start: number, end: number, target: Uint8Array, targetStart: number, keyWord: number, phase: number): void {
  const p = phase & 3;
  if (maskSimdInto !== null && end - start >= SIMD_MIN && LITTLE_ENDIAN) {
    maskSimdInto(source, start, end, target, targetStart, p === 0 ? keyWord : (keyWord >>> (p << 3)) | (keyWord << (32 - (p << 3))));
    return;
  }
  target.set(source.subarray(start, end), targetStart);
  maskWord(target, targetStart, targetStart + (end - start), keyWord, p);
}

let plainReadBuffer: Buffer | null = null;

/**
 * sharedReadBuffer is the one buffer a transport may read every socket into, handing each read to
 * `WebSocketProtocol.receive` as borrowed: WebAssembly memory where the SIMD path runs (received payloads are then
 * unmasked where the kernel wrote them and copied once), else a plain buffer of the same size, made on first use.
 */
export function sharedReadBuffer(): Buffer {
  return simdReadArea ?? (plainReadBuffer ??= Buffer.allocUnsafeSlow(READ_AREA_BYTES));
}

let pool: Buffer = Buffer.allocUnsafeSlow(MASK_POOL_BYTES);
let poolOffset = MASK_POOL_BYTES;

/** fillMaskKey writes a fresh crypto-random 4-byte masking key into `target` at `offset`. */
export function fillMaskKey(target: Uint8Array, offset: number): void {
  if (poolOffset + 4 > MASK_POOL_BYTES) {
    if (pool.length !== MASK_POOL_BYTES) pool = Buffer.allocUnsafeSlow(MASK_POOL_BYTES);
    randomFillSync(pool);
    poolOffset = 0;
  }
  target[offset] = pool[poolOffset];
  target[offset + 1] = pool[poolOffset + 1];
  target[offset + 2] = pool[poolOffset + 2];
  target[offset + 3] = pool[poolOffset + 3];
  poolOffset += 4;
}
