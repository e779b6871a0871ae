/**
 * ByteQueue: the received chunks not yet parsed (ws's receiver mechanics).
 *
 * Chunks are kept as given; reads return subarrays of the first chunk whenever the bytes are contiguous there and
 * copy only when a read spans chunks. The first chunk has its own field and the others a list made only when two
 * chunks are pending at once, so the common case (each read parsed completely) keeps no array, and an idle
 * connection holds nothing. Not here: any knowledge of frames.
 */

const EMPTY = Buffer.alloc(0);

/** ByteQueue holds received chunks and hands out their bytes in order, copying only across chunk boundaries. */
export class ByteQueue {
  /** The chunk being read, or null when empty. */
  #head: Buffer | null = null;
  /** Chunks after the head, oldest first; null unless some are waiting. */
  #rest: Buffer[] | null = null;
  /** Read position inside `#head`. */
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
    if (this.#head === null) this.#head = chunk;
    else if (this.#rest === null) this.#rest = [chunk];
    else this.#rest.push(chunk);
    this.#length += chunk.length;
  }

  /**
   * compact copies the queued bytes into one buffer of their own, so that no received chunk is referenced any more
   * (a chunk whose memory the transport reuses after the read: see `FrameParser.push`).
   */
  compact(): void {
    if (this.#head === null) return;
    const owned = Buffer.allocUnsafe(this.#length);
    let written = 0;
    for (let chunk: Buffer | undefined = this.#head, c = 0, offset = this.#offset; chunk !== undefined; chunk = this.#rest?.[c++], offset = 0) {
      written += chunk.copy(owned, written, offset);
    }
    this.#head = owned;
    this.#rest = null;
    this.#offset = 0;
  }

  /** clear drops every queued byte. */
  clear(): void {
    this.#head = null;
    this.#rest = null;
    this.#offset = 0;
    this.#length = 0;
  }

  /** byteAt returns the queued byte at index `i` (which must be below `length`). */
  byteAt(i: number): number {
    const head = this.#head as Buffer;
    let index = this.#offset + i;
    if (index < head.length) return head[index];
    index -= head.length;
    const rest = this.#rest as Buffer[];
    for (let c = 0; ; c++) {
      const chunk = rest[c];
      if (index < chunk.length) return chunk[index];
      index -= chunk.length;
    }
  }

  /** contiguous says whether the next `n` bytes all sit in the first chunk (then `head`/`headOffset` address them). */
  contiguous(n: number): boolean {
    return this.#head !== null && this.#head.length - this.#offset >= n;
  }

  /** head is the first chunk (valid when `length > 0`). */
  get head(): Buffer {
    return this.#head as Buffer;
  }

  /** headOffset is the read position in `head`. */
  get headOffset(): number {
    return this.#offset;
  }

  /** skip drops the next `n` bytes (at most `length`). */
  skip(n: number): void {
    this.#length -= n;
    while (n > 0) {
      const left = (this.#head as Buffer).length - this.#offset;
      if (n < left) {
        this.#offset += n;
        return;
      }
      n -= left;
      this.#advance();
    }
  }

  /** consume removes and returns the next `n` bytes (at most `length`): a subarray when contiguous, else a copy. */
  consume(n: number): Buffer {
    if (n === 0) return EMPTY;
    if ((this.#head as Buffer).length - this.#offset >= n) return this.takePiece(n);
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#head as Buffer;
      const take = Math.min(chunk.length - this.#offset, n - written);
      chunk.copy(out, written, this.#offset, this.#offset + take);
      written += take;
      this.#length -= take;
      if (this.#offset + take === chunk.length) this.#advance();
      else this.#offset += take;
    }
    return out;
  }

  /**
   * takePiece removes and returns up to `max` bytes from the first chunk only, never copying (`length` must be > 0);
   * `lastSourceLength` is set to that chunk's length.
   */
  takePiece(max: number): Buffer {
    const head = this.#head as Buffer;
    this.lastSourceLength = head.length;
    const start = this.#offset;
    const left = head.length - start;
    if (max >= left) {
      this.#length -= left;
      this.#advance();
      return start === 0 ? head : head.subarray(start);
    }
    this.#offset = start + max;
    this.#length -= max;
    return head.subarray(start, start + max);
  }

  /** Moves to the next chunk. */
  #advance(): void {
    this.#offset = 0;
    const rest = this.#rest;
    if (rest === null) {
      this.#head = null;
      return;
    }
    this.#head = rest.shift() as Buffer;
    if (rest.length === 0) this.#rest = null;
  }
}
