/**
 * maskSimd: RFC 6455 §5.3 masking of long payloads with WebAssembly SIMD (a JavaScript built-in, not a dependency).
 *
 * Why: the portable word loop in mask.ts runs at about 3 GB/s; ws's native bufferutil at about 40 GB/s, which made
 * 64 KiB echo slower than ws. This module XORs 16 bytes per instruction inside a one-page (64 KiB) WebAssembly
 * memory: each 64 KiB block is copied in, masked, and copied back (about 15 GB/s including both copies).
 *
 * The module is `mask-simd.wat` beside this file, assembled with `wat2wasm mask-simd.wat` (Debian's wabt) and
 * embedded below as base64 so that nothing is read from disk at run time. Where WebAssembly or its SIMD proposal is
 * missing, `maskSimd` is null and mask.ts keeps its word loop.
 */

const MODULE_BASE64 = 'AGFzbQEAAAABBgFgAn9/AAMCAQAFAwEAAQcRAgZtZW1vcnkCAARtYXNrAAAKmAEBlQEDAX8BewF/IAH9ESEDIABBQHEhBAJAA0AgAiAETw0BIAIgAv0ABAAgA/1R/QsEACACIAL9AAQQIAP9Uf0LBBAgAiAC/QAEICAD/VH9CwQgIAIgAv0ABDAgA/1R/QsEMCACQcAAaiECDAALCwJAA0AgAkEQaiAASw0BIAIgAv0ABAAgA/1R/QsEACACQRBqIQIMAAsLCw==';

/** SIMD_BLOCK_BYTES is the WebAssembly memory's size: payloads are masked in blocks of this many bytes. */
const SIMD_BLOCK_BYTES = 64 * 1024;

type MaskExports = { memory: WebAssembly.Memory; mask: (length: number, keyWord: number) => void };

function instantiate(): MaskExports | null {
  try {
    if (typeof WebAssembly !== 'object') return null;
    const bytes = Uint8Array.from(atob(MODULE_BASE64), (c) => c.charCodeAt(0));
    return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as MaskExports;
  } catch {
    return null; // no SIMD support: the word loop serves
  }
}

const wasm = instantiate();
/** The module's memory as bytes; it never grows, so this view stays valid. */
const wasmBytes = wasm === null ? null : new Uint8Array(wasm.memory.buffer, 0, SIMD_BLOCK_BYTES);

/**
 * maskSimd XORs `data[start..end)` in place with `word`, the 4-byte key already rotated so that its byte 0 applies to
 * `data[start]` (little-endian hosts only; mask.ts checks). Null when WebAssembly SIMD is unavailable.
 */
export const maskSimd: ((data: Uint8Array, start: number, end: number, word: number) => void) | null =
  wasm === null ? null : (data, start, end, word) => maskBlocks(wasm, data, start, end, data, start, word);

/**
 * maskSimdInto writes `source[start..end)` XORed with `word` (rotated as for `maskSimd`) into `target` from
 * `targetStart`, leaving `source` as it is: the copy out of WebAssembly memory lands in the destination, so a payload
 * that has to be moved anyway (a frame spanning socket reads) costs the same two copies as unmasking in place.
 * The ranges must not overlap. Null when WebAssembly SIMD is unavailable.
 */
export const maskSimdInto:
  | ((source: Uint8Array, start: number, end: number, target: Uint8Array, targetStart: number, word: number) => void)
  | null = wasm === null ? null : (source, start, end, target, targetStart, word) => maskBlocks(wasm, source, start, end, target, targetStart, word);

function maskBlocks(wasm: MaskExports, source: Uint8Array, start: number, end: number, target: Uint8Array, targetStart: number, word: number): void {
  const memory = wasmBytes as Uint8Array;
  for (let offset = start; offset < end; offset += SIMD_BLOCK_BYTES) {
    const length = Math.min(SIMD_BLOCK_BYTES, end - offset);
    memory.set(source.subarray(offset, offset + length), 0);
    wasm.mask(length, word);
    // The module masks whole 16-byte lanes; the last 0-15 bytes are masked here. Every block starts a multiple of
    // 16 bytes after `start`, so byte i of a block takes key byte i & 3 of the rotated word.
    const lanes = length & ~15;
    for (let i = lanes; i < length; i++) memory[i] ^= word >>> ((i & 3) << 3);
    target.set(memory.subarray(0, length), targetStart + (offset - start));
  }
}
