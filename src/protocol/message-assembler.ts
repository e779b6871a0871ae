/**
 * MessageAssembler: reassembles the payload of one data message from its frames and frame pieces (RFC 6455 §5.4),
 * inflates compressed messages through the negotiated extension (RFC 7692 §6.2), validates text incrementally and
 * enforces `maxPayload` on the inflated size.
 *
 * Every piece of an uncompressed message is written once, straight into the message's destination buffer, unmasked
 * on the way (`addMaskedPayload`: copy into WebAssembly memory, XOR, copy out into the destination), so a frame that
 * spans socket reads costs two copies per byte instead of unmasking in place (two) and concatenating (one).
 * The destination is sized from the frame headers but never beyond what arrived justifies (docs/decisions/
 * fused-unmask.md): at most `max(PREALLOCATE_MAX_BYTES, 2 × bytes received)`, never past the final frame's end or
 * `maxPayload`. A peer announcing a huge frame and sending one byte makes us allocate `PREALLOCATE_MAX_BYTES`, not
 * the announced length; a flood of tiny or empty fragments costs at most twice the bytes it carries, in one buffer,
 * whatever the fragment count. Header-level rules (opcodes, continuation order, the raw length limit) are checked by
 * frame-parser.ts before a frame reaches this class.
 */
import { CloseCode } from './close-code.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { MessageExtension } from './extension.js';
import { PREALLOCATE_MAX_BYTES } from './limits.js';
import { maskWord, maskWordInto } from './mask.js';
import { Utf8Validator } from './utf8.js';

const EMPTY = Buffer.alloc(0);

/** The smallest destination made for a non-final frame, so a run of tiny fragments does not reallocate per fragment. */
const GROWTH_MIN_BYTES = 256;

/** MessageAssemblerOptions configure a `MessageAssembler`. */
export interface MessageAssemblerOptions {
  /** Largest message in bytes after reassembly and inflation. */
  maxPayload: number;
  /** The negotiated extension that owns RSV1, or null. */
  extension: MessageExtension | null;
}

/** MessageAssembler collects one message at a time from data frames (see the module header). */
export class MessageAssembler {
  readonly #maxPayload: number;
  readonly #extension: MessageExtension | null;
  #active = false;
  #binary = false;
  #compressed = false;
  #frameFin = false;
  /** Payload bytes received on the wire for this message (compressed size when compressed). */
  #rawBytes = 0;
  /** Message bytes after inflation (what the application gets), all written to `#target`. */
  #bytes = 0;
  /** Where the message's bytes are written; its length is the capacity. */
  #target: Buffer = EMPTY;
  /** Message bytes when the current uncompressed frame is complete: what `#target` will have to hold at least. */
  #frameEnd = 0;
  /** Pieces of the current compressed frame, inflated when the frame is complete. */
  #frameParts: Buffer[] | null = null;
  #frameBytes = 0;
  #utf8: Utf8Validator | null = null;

  /** MessageAssembler makes an assembler with the connection's limit and extension. */
  constructor(options: MessageAssemblerOptions) {
    this.#maxPayload = options.maxPayload;
    this.#extension = options.extension;
  }

  /** active is true while a message has started and its final frame has not ended. */
  get active(): boolean {
    return this.#active;
  }

  /** rawBytes is the number of wire payload bytes the current message has announced so far. */
  get rawBytes(): number {
    return this.#active ? this.#rawBytes : 0;
  }

  /** binary says whether the current (or just completed) message is binary. */
  get binary(): boolean {
    return this.#binary;
  }

  /** capacity is the size of the buffer the current message is written into (what it holds in memory). */
  get capacity(): number {
    return this.#target.length;
  }

  /**
   * startFrame registers a data frame header: opcode 1/2 starts a message (RSV1 marks it compressed), 0 continues it.
   * The caller has already checked the frame order and that `length` fits the remaining `maxPayload`.
   */
  startFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void {
    if (opcode !== 0) {
      this.#active = true;
      this.#binary = opcode === 2;
      this.#compressed = rsv1;
      this.#rawBytes = 0;
      this.#bytes = 0;
      if (!this.#binary) {
        if (this.#utf8 === null) this.#utf8 = new Utf8Validator();
        else this.#utf8.reset();
      }
    }
    this.#frameFin = fin;
    this.#rawBytes += length;
    this.#frameEnd = this.#bytes + length;
  }

  /**
   * addPayload takes the next piece of the current frame's unmasked payload; `sourceLength` is the length of the
   * chunk it is a view of (what keeping the piece would retain; infinite for a borrowed chunk, which must not be
   * kept). Returns a ProtocolError as soon as text is invalid.
   */
  addPayload(piece: Buffer, sourceLength: number): ProtocolError | null {
    const length = piece.length;
    if (length === 0) return null;
    if (this.#compressed) return this.#addCompressed(piece, sourceLength);
    this.#reserve(length);
    this.#target.set(piece, this.#bytes);
    return this.#written(length);
  }

  /**
   * addMaskedPayload is `addPayload` for a piece still masked with the packed key `keyWord`, its first byte using key
   * byte `phase`. An uncompressed piece is unmasked into the message's destination and `piece` is left masked; a
   * compressed one is unmasked in place (the inflater reads it).
   */
  addMaskedPayload(piece: Buffer, sourceLength: number, keyWord: number, phase: number): ProtocolError | null {
    const length = piece.length;
    if (length === 0) return null;
    if (this.#compressed) {
      maskWord(piece, 0, length, keyWord, phase);
      return this.#addCompressed(piece, sourceLength);
    }
    this.#reserve(length);
    maskWordInto(piece, 0, length, this.#target, this.#bytes, keyWord, phase);
    return this.#written(length);
  }

  /**
   * endFrame finishes the current frame: inflates it when the message is compressed, and when it was the final frame
   * checks that text ended on a character boundary. Returns a ProtocolError or null; after a final frame the
   * message is ready for `takeMessage()`.
   */
  endFrame(): ProtocolError | null {
    const fin = this.#frameFin;
    if (this.#compressed) {
      const parts = this.#frameParts;
      const input = parts === null ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, this.#frameBytes);
      if (parts !== null) parts.length = 0;
      this.#frameBytes = 0;
      const limit = this.#maxPayload - this.#bytes;
      const extension = this.#extension as MessageExtension;
      let output: Buffer | ProtocolError;
      try {
        output = extension.decompress(input, fin, limit);
      } catch (error) {
        // The codec reports bad data as a ProtocolError; a throw is our fault: 1011 without details to the peer.
        output = new ProtocolError(ProtocolErrorCode.InternalError, CloseCode.InternalError, `inflating failed: ${String(error)}`);
      }
      if (!Buffer.isBuffer(output)) return output;
      if (output.length > limit) return tooBig(this.#maxPayload);
      const error = this.#appendInflated(output, fin);
      if (error !== null) return error;
    }
    if (fin && !this.#binary && !(this.#utf8 as Utf8Validator).complete) {
      // RFC 6455 §8.1: a message that ends inside a UTF-8 sequence is not valid UTF-8.
      return new ProtocolError(ProtocolErrorCode.InvalidUtf8, CloseCode.InvalidFramePayloadData, 'text message ends inside a UTF-8 sequence');
    }
    return null;
  }

  /** takeMessage returns the completed message's bytes and makes the assembler ready for the next message. */
  takeMessage(): Buffer {
    const target = this.#target;
    const bytes = this.#bytes;
    const data = bytes === target.length ? target : bytes === 0 ? EMPTY : target.subarray(0, bytes);
    this.reset();
    return data;
  }

  /** reset drops any message in progress. */
  reset(): void {
    this.#active = false;
    this.#compressed = false;
    this.#rawBytes = 0;
    this.#bytes = 0;
    this.#target = EMPTY;
    this.#frameEnd = 0;
    this.#frameParts = null;
    this.#frameBytes = 0;
  }

  #addCompressed(piece: Buffer, sourceLength: number): null {
    if (this.#frameParts === null) this.#frameParts = [];
    // A piece that is less than half of its socket chunk is copied, so the chunk is not retained for it.
    this.#frameParts.push(piece.length * 2 >= sourceLength ? piece : Buffer.from(piece));
    this.#frameBytes += piece.length;
    return null;
  }

  /**
   * #appendInflated adds one frame's inflated bytes. The first output of a message becomes its buffer as it is (the
   * inflater made it for us): a message compressed in one frame is delivered without a copy, as before.
   */
  #appendInflated(output: Buffer, fin: boolean): ProtocolError | null {
    const length = output.length;
    if (length === 0) return null;
    if (this.#bytes === 0) {
      this.#target = output;
    } else {
      // Inflated sizes are not announced: the destination grows from what arrived, exactly on the final frame.
      this.#frameEnd = fin ? this.#bytes + length : 0;
      this.#reserve(length);
      this.#target.set(output, this.#bytes);
    }
    return this.#written(length);
  }

  /** #written accounts for `length` bytes just written at `#bytes` and validates them when the message is text. */
  #written(length: number): ProtocolError | null {
    const start = this.#bytes;
    this.#bytes = start + length;
    if (!this.#binary && !(this.#utf8 as Utf8Validator).write(this.#target, start, start + length)) {
      // RFC 6455 §8.1: fail as soon as the invalid byte arrives, not at the end of the message.
      return new ProtocolError(ProtocolErrorCode.InvalidUtf8, CloseCode.InvalidFramePayloadData, 'text message is not valid UTF-8');
    }
    return null;
  }

  /**
   * #reserve makes room for `length` more bytes. A new destination is at least twice the old one (a run of small
   * fragments reallocates O(log n) times) and covers the current frame up to `PREALLOCATE_MAX_BYTES`, but is never
   * more than `max(PREALLOCATE_MAX_BYTES, 2 × the bytes that will then have arrived)`; on the final frame it stops at
   * the message's exact end, so a message in one frame gets a buffer of exactly its size.
   */
  #reserve(length: number): void {
    const needed = this.#bytes + length;
    const old = this.#target;
    if (needed <= old.length) return;
    const frameEnd = this.#frameEnd;
    const upper = this.#frameFin && frameEnd >= needed ? frameEnd : this.#maxPayload;
    const size = Math.min(upper, Math.max(needed, old.length * 2, Math.min(frameEnd, PREALLOCATE_MAX_BYTES), this.#frameFin ? 0 : GROWTH_MIN_BYTES));
    const target = Buffer.allocUnsafe(size);
    if (this.#bytes > 0) old.copy(target, 0, 0, this.#bytes);
    this.#target = target;
  }
}

function tooBig(maxPayload: number): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.MessageTooBig, CloseCode.MessageTooBig, `message exceeds maxPayload (${maxPayload} bytes)`);
}
