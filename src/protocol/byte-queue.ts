/**
 * ByteQueue: the received chunks not yet parsed (ws's receiver mechanics).
 *
 * Chunks are kept as given; reads return subarrays of the first chunk whenever the bytes are contiguous there and
 * copy only when a read spans chunks. Not here: any knowledge of frames.
 */

const EMPTY = Buffer.alloc(0);

/** ByteQueue holds received chunks and hands out their bytes in order, copying only across chunk boundaries. */
export class ByteQueue {
  #chunks: Buffer[] = [];
  /** Read position inside `#chunks[0]`. */
  #offset = 0;
  #length = 0;
  /** Length of the chunk the last `takePiece` came from (how much memory a kept piece would retain). */
  lastSourceLength = 0;

  /** length is the number of bytes queued. */
  get length(): number {
    return this.#length;
  }

  /** push appends a received chunk (taking ownership: pieces handed out may be unmasked in place). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** clear drops every queued byte. */
  clear(): void {
    this.#chunks.length = 0;
    this.#offset = 0;
    this.#length = 0;
  }

  /** byteAt returns the queued byte at index `i` (which must be below `length`). */
  byteAt(i: number): number {
    const first = this.#chunks[0];
    let index = this.#offset + i;
    if (index < first.length) return first[index];
    index -= first.length;
    for (let c = 1; ; c++) {
      const chunk = this.#chunks[c];
      if (index < chunk.length) return chunk[index];
      index -= chunk.length;
    }
  }

  /** contiguous says whether the next `n` bytes all sit in the first chunk (then `head`/`headOffset` address them). */
  contiguous(n: number): boolean {
    return this.#chunks.length > 0 && this.#chunks[0].length - this.#offset >= n;
  }

  /** head is the first chunk (valid when `length > 0`). */
  get head(): Buffer {
    return this.#chunks[0];
  }

  /** headOffset is the read position in `head`. */
  get headOffset(): number {
    return this.#offset;
  }

  /** skip drops the next `n` bytes (at most `length`). */
  skip(n: number): void {
    this.#length -= n;
    while (n > 0) {
      const first = this.#chunks[0];
      const left = first.length - this.#offset;
      if (n < left) {
        this.#offset += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#offset = 0;
    }
  }

  /** consume removes and returns the next `n` bytes (at most `length`): a subarray when contiguous, else a copy. */
  consume(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) return this.takePiece(n);
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length - this.#offset, n - written);
      chunk.copy(out, written, this.#offset, this.#offset + take);
      written += take;
      this.#length -= take;
      if (this.#offset + take === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      } else {
        this.#offset += take;
      }
    }
    return out;
  }

  /**
   * takePiece removes and returns up to `max` bytes from the first chunk only, never copying (`length` must be > 0);
   * `lastSourceLength` is set to that chunk's length.
   */
  takePiece(max: number): Buffer {
    const first = this.#chunks[0];
    this.lastSourceLength = first.length;
    const start = this.#offset;
    const left = first.length - start;
    if (max >= left) {
      this.#chunks.shift();
      this.#offset = 0;
      this.#length -= left;
      return start === 0 ? first : first.subarray(start);
    }
    this.#offset = start + max;
    this.#length -= max;
    return first.subarray(start, start + max);
  }
}
