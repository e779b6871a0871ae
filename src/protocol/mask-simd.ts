/**
 * maskSimd: RFC 6455 §5.3 masking of long payloads with WebAssembly SIMD (a JavaScript built-in, not a dependency).
 *
 * Why: the portable word loop in mask.ts runs at about 3 GB/s; ws's native bufferutil at about 40 GB/s, which made
 * 64 KiB echo slower than ws. This module XORs 16 bytes per instruction inside its own WebAssembly memory. Page 0
 * takes payloads from outside: each 64 KiB block is copied in, masked, and copied out into its destination (about
 * 15 GB/s including both copies). Pages 1-4 are a read area that the Node transport reads sockets into
 * (`simdReadArea`): bytes there are masked where they lie and copied out once.
 *
 * The module is `mask-simd.wat` beside this file, assembled with `wat2wasm mask-simd.wat` (Debian's wabt) and
 * embedded below as base64 so that nothing is read from disk at run time. Where WebAssembly or its SIMD proposal is
 * missing, `maskSimd` is null and mask.ts keeps its word loop.
 */

const MODULE_BASE64 = 'AGFzbQEAAAABBwFgA39/fwADAgEABQQBAQUFBxECBm1lbW9yeQIABG1hc2sAAAqmAQGjAQMBfwF7An8gAv0RIQQgACEDIAAgAWohBiAAIAFBQHFqIQUCQANAIAMgBU8NASADIAP9AAQAIAT9Uf0LBAAgAyAD/QAEECAE/VH9CwQQIAMgA/0ABCAgBP1R/QsEICADIAP9AAQwIAT9Uf0LBDAgA0HAAGohAwwACwsCQANAIANBEGogBksNASADIAP9AAQAIAT9Uf0LBAAgA0EQaiEDDAALCws=';

/** SIMD_BLOCK_BYTES is the size of page 0, the block that payloads from outside WebAssembly memory are masked in. */
const SIMD_BLOCK_BYTES = 64 * 1024;
/** READ_AREA_BYTES is the size of the read area (pages 1-4 of the module's memory, declared in mask-simd.wat). */
export const READ_AREA_BYTES = 256 * 1024;

type MaskExports = { memory: WebAssembly.Memory; mask: (offset: number, length: number, keyWord: number) => void };

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
/** The module's memory; its size is fixed in the module (minimum = maximum), so views of it stay valid. */
const wasmBuffer = wasm === null ? null : wasm.memory.buffer;
const wasmBytes = wasmBuffer === null ? null : new Uint8Array(wasmBuffer);

/**
 * simdReadArea is a view of WebAssembly memory that a transport may lend to socket reads (`WebSocketProtocol.receive`
 * with `borrowed`): payload bytes read there are unmasked where they lie and copied once into their message, instead
 * of being copied into page 0 first. One per process, reused by every read; null when WebAssembly SIMD is unavailable.
 */
export const simdReadArea: Buffer | null = wasmBuffer === null ? null : Buffer.from(wasmBuffer, SIMD_BLOCK_BYTES, READ_AREA_BYTES);

/**
 * maskSimd XORs `data[start..end)` in place with `word`, the 4-byte key already rotated so that its byte 0 applies to
 * `data[start]` (little-endian hosts only; mask.ts checks). Null when WebAssembly SIMD is unavailable.
 */
export const maskSimd: ((data: Uint8Array, start: number, end: number, word: number) => void) | null =
  wasm === null ? null : (data, start, end, word) => {
    if (data.buffer === wasmBuffer) maskInMemory(wasm, data.byteOffset + start, end - start, word, null, 0);
    else maskBlocks(wasm, data, start, end, data, start, word);
  };

/**
 * maskSimdInto writes `source[start..end)` XORed with `word` (rotated as for `maskSimd`) into `target` from
 * `targetStart`: the copy out of WebAssembly memory lands in the destination, so a payload that has to be moved
 * anyway (a frame spanning socket reads) costs the same two copies as unmasking in place. A `source` in the read
 * area (`simdReadArea`) is masked where it lies and copied out once, and is left unmasked; any other `source` is left
 * as it is. The ranges must not overlap. Null when WebAssembly SIMD is unavailable.
 */
export const maskSimdInto:
  | ((source: Uint8Array, start: number, end: number, target: Uint8Array, targetStart: number, word: number) => void)
  | null = wasm === null ? null : (source, start, end, target, targetStart, word) => {
    if (source.buffer === wasmBuffer) maskInMemory(wasm, source.byteOffset + start, end - start, word, target, targetStart);
    else maskBlocks(wasm, source, start, end, target, targetStart, word);
  };

function maskBlocks(wasm: MaskExports, source: Uint8Array, start: number, end: number, target: Uint8Array, targetStart: number, word: number): void {
  const memory = wasmBytes as Uint8Array;
  for (let offset = start; offset < end; offset += SIMD_BLOCK_BYTES) {
    const length = Math.min(SIMD_BLOCK_BYTES, end - offset);
    memory.set(source.subarray(offset, offset + length), 0);
    maskInMemory(wasm, 0, length, word, target, targetStart + (offset - start));
  }
}

/** maskInMemory masks `length` bytes of WebAssembly memory from `at` in place, then copies them to `target` if any. */
function maskInMemory(wasm: MaskExports, at: number, length: number, word: number, target: Uint8Array | null, targetStart: number): void {
  const memory = wasmBytes as Uint8Array;
  wasm.mask(at, length, word);
  // The module masks whole 16-byte lanes from `at`; the last 0-15 bytes are masked here. Byte i after `at` takes
  // key byte i & 3 of the rotated word.
  for (let i = length & ~15; i < length; i++) memory[at + i] ^= word >>> ((i & 3) << 3);
  if (target !== null) target.set(memory.subarray(at, at + length), targetStart);
}
