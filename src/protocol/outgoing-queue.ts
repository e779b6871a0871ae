/**
 * OutgoingQueue: one connection's bytes waiting to be written, with small frames coalesced.
 *
 * Small frames are written straight into a slab shared by every connection of the process (like Node's Buffer
 * pool), and consecutive frames of one connection form one contiguous region, so everything queued between two
 * `take()` calls leaves as one Buffer (one write) and an idle connection holds no buffer at all. Large payloads are
 * queued as their own chunk, uncopied. Not here: framing (protocol.ts, frame.ts), or writing to a socket.
 */
import { SEND_SLAB_BYTES } from './limits.js';

const EMPTY = Buffer.alloc(0);
let slab: Buffer = Buffer.allocUnsafeSlow(SEND_SLAB_BYTES);
let slabOffset = 0;

/** OutgoingQueue collects one connection's outgoing bytes in order (see the module header). */
export class OutgoingQueue {
  // Made when bytes are queued, not at take(): an array made at take() would live until the next batch (a broadcast
  // later, say) and be promoted by the GC on every connection; made on use, it dies young within the turn.
  #chunks: Buffer[] | null = null;
  #bytes = 0;
  #region: Buffer | null = null;
  #regionStart = 0;
  #regionEnd = 0;
  #reservedAt = 0;
  /** The slab that the last `reserve()` offset refers to, until `commit()` (then empty: an idle queue pins no slab). */
  buffer: Buffer = EMPTY;

  /** bytes is the number of bytes queued and not yet taken. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * reserve makes room for up to `n` bytes (at most `SEND_SLAB_BYTES`) in `buffer` and returns the offset to write at;
   * `commit(end)` must follow before any other call on any queue.
   */
  reserve(n: number): number {
    if (this.#region !== null && (this.#region !== slab || this.#regionEnd !== slabOffset)) this.#closeRegion();
    if (slabOffset + n > SEND_SLAB_BYTES) {
      this.#closeRegion();
      slab = Buffer.allocUnsafeSlow(SEND_SLAB_BYTES);
      slabOffset = 0;
    }
    if (this.#region === null) {
      this.#region = slab;
      this.#regionStart = slabOffset;
    }
    this.buffer = slab;
    this.#reservedAt = slabOffset;
    return slabOffset;
  }

  /** commit ends the last reservation at offset `end` (the bytes written), giving the rest back to the slab. */
  commit(end: number): void {
    this.#bytes += end - this.#reservedAt;
    slabOffset = end;
    this.#regionEnd = end;
    this.buffer = EMPTY;
  }

  /** pushChunk queues `chunk` as it is, after everything queued before it (the caller must not change it). */
  pushChunk(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#closeRegion();
    (this.#chunks ??= []).push(chunk);
    this.#bytes += chunk.length;
  }

  /** take returns the queued bytes in order and empties the queue. */
  take(): Buffer[] {
    this.#closeRegion();
    const chunks = this.#chunks;
    if (chunks === null) return [];
    this.#chunks = null;
    this.#bytes = 0;
    return chunks;
  }

  #closeRegion(): void {
    const region = this.#region;
    if (region === null) return;
    if (this.#regionEnd > this.#regionStart) (this.#chunks ??= []).push(region.subarray(this.#regionStart, this.#regionEnd));
    this.#region = null;
  }
}
