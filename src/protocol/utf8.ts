/**
 * UTF-8 validation (RFC 6455 §8.1, RFC 3629): whole buffers through Node's native `isUtf8`, and an incremental
 * validator for text that arrives in pieces (fragments, or one frame split across reads).
 *
 * RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in
 * fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_." The incremental validator fails
 * on the first byte that cannot continue any valid sequence (overlongs, surrogates and code points past U+10FFFF
 * included), so an invalid message is refused as soon as the bad byte arrives, not at its end. It does not decode.
 */
import { isUtf8 } from 'node:buffer';

/** isValidUtf8 says whether the bytes are complete, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return bytes.length === 0 || isUtf8(bytes);
}

/** Utf8Validator checks a UTF-8 byte stream fed in pieces, failing at the first invalid byte. */
export class Utf8Validator {
  /** Continuation bytes still expected by the current sequence. */
  #need = 0;
  /** Allowed range of the next continuation byte (narrower after E0, ED, F0, F4: RFC 3629 §4). */
  #lower = 0x80;
  #upper = 0xbf;

  /** complete is true when no multi-byte sequence is left unfinished (a message may end here). */
  get complete(): boolean {
    return this.#need === 0;
  }

  /** reset forgets any unfinished sequence. */
  reset(): void {
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  /** write feeds the next piece; returns false as soon as the stream cannot be valid UTF-8. */
  write(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    let i = start;
    while (this.#need > 0 && i < end) {
      if (!this.#step(bytes[i])) return false;
      i++;
    }
    if (i === end) return true;
    // Split off a trailing sequence that may be unfinished; the middle goes to the native validator.
    let bulkEnd = end;
    let j = end - 1;
    const stop = Math.max(i, end - 4);
    while (j >= stop && (bytes[j] & 0xc0) === 0x80) j--;
    if (j >= stop && bytes[j] >= 0xc0) {
      const b = bytes[j];
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (j + length > end) bulkEnd = j;
    }
    if (bulkEnd > i) {
      if (bulkEnd - i <= 16) {
        for (; i < bulkEnd; i++) if (!this.#step(bytes[i])) return false;
        if (this.#need !== 0) return false;
      } else if (!isUtf8(bytes.subarray(i, bulkEnd))) {
        return false;
      }
    }
    for (let k = bulkEnd; k < end; k++) if (!this.#step(bytes[k])) return false;
    return true;
  }

  #step(b: number): boolean {
    if (this.#need === 0) {
      if (b < 0x80) return true;
      if (b >= 0xc2 && b <= 0xdf) {
        this.#need = 1;
      } else if (b >= 0xe0 && b <= 0xef) {
        this.#need = 2;
        if (b === 0xe0) this.#lower = 0xa0; // overlong
        else if (b === 0xed) this.#upper = 0x9f; // surrogates U+D800-U+DFFF
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.#need = 3;
        if (b === 0xf0) this.#lower = 0x90; // overlong
        else if (b === 0xf4) this.#upper = 0x8f; // past U+10FFFF
      } else {
        return false; // 80-C1 (stray continuation, overlong lead) and F5-FF
      }
      return true;
    }
    if (b < this.#lower || b > this.#upper) return false;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    this.#need--;
    return true;
  }
}
