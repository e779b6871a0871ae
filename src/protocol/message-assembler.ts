/**
 * MessageAssembler: reassembles the payload of one data message from its frames and frame pieces (RFC 6455 §5.4),
 * inflates compressed messages through the negotiated extension (RFC 7692 §6.2), validates text incrementally and
 * enforces `maxPayload` on the inflated size.
 *
 * Memory is bounded by bytes, not by fragment count: pieces below `ASSEMBLY_COPY_BELOW_BYTES` (or below half of the
 * socket chunk they sit in) are copied into a tail buffer, empty ones are skipped, so a flood of tiny fragments costs
 * about the bytes it carries. Header-level rules (opcodes, continuation order, the raw length limit) are checked by
 * frame-parser.ts before a frame reaches this class.
 */
import { CloseCode } from './close-code.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { MessageExtension } from './extension.js';
import { ASSEMBLY_COPY_BELOW_BYTES, ASSEMBLY_TAIL_BYTES } from './limits.js';
import { Utf8Validator } from './utf8.js';

const EMPTY = Buffer.alloc(0);
const TAIL_MIN_BYTES = 256;

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
  /** Message bytes after inflation (what the application gets). */
  #bytes = 0;
  #pieces: Buffer[] | null = null;
  #tail: Buffer | null = null;
  #tailUsed = 0;
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
  }

  /**
   * addPayload takes the next piece of the current frame's (unmasked) payload; `sourceLength` is the length of the
   * chunk it is a view of. Returns a ProtocolError as soon as text is invalid.
   */
  addPayload(piece: Buffer, sourceLength: number): ProtocolError | null {
    if (piece.length === 0) return null;
    if (this.#compressed) {
      if (this.#frameParts === null) this.#frameParts = [];
      this.#frameParts.push(piece.length * 2 >= sourceLength ? piece : Buffer.from(piece));
      this.#frameBytes += piece.length;
      return null;
    }
    return this.#append(piece, sourceLength);
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
      const error = this.#append(output, output.length);
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
    const pieces = this.#pieces;
    let data: Buffer;
    if (this.#tail !== null && this.#tailUsed > 0) {
      const tail = this.#tail.subarray(0, this.#tailUsed);
      data = pieces === null || pieces.length === 0 ? tail : Buffer.concat([...pieces, tail], this.#bytes);
    } else {
      data = pieces === null || pieces.length === 0 ? EMPTY : pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, this.#bytes);
    }
    this.reset();
    return data;
  }

  /** reset drops any message in progress. */
  reset(): void {
    this.#active = false;
    this.#compressed = false;
    this.#rawBytes = 0;
    this.#bytes = 0;
    this.#pieces = null;
    this.#tail = null;
    this.#tailUsed = 0;
    this.#frameParts = null;
    this.#frameBytes = 0;
  }

  #append(piece: Buffer, sourceLength: number): ProtocolError | null {
    const length = piece.length;
    if (length === 0) return null;
    if (!this.#binary && !(this.#utf8 as Utf8Validator).write(piece)) {
      // RFC 6455 §8.1: fail as soon as the invalid byte arrives, not at the end of the message.
      return new ProtocolError(ProtocolErrorCode.InvalidUtf8, CloseCode.InvalidFramePayloadData, 'text message is not valid UTF-8');
    }
    this.#bytes += length;
    if (length >= ASSEMBLY_COPY_BELOW_BYTES && length * 2 >= sourceLength) {
      this.#flushTail();
      if (this.#pieces === null) this.#pieces = [];
      this.#pieces.push(piece);
      return null;
    }
    let copied = 0;
    while (copied < length) {
      let tail = this.#tail;
      if (tail === null || this.#tailUsed === tail.length) {
        this.#flushTail();
        const size = Math.min(ASSEMBLY_TAIL_BYTES, Math.max(TAIL_MIN_BYTES, length - copied, this.#bytes));
        tail = this.#tail = Buffer.allocUnsafe(size);
      }
      const n = Math.min(tail.length - this.#tailUsed, length - copied);
      piece.copy(tail, this.#tailUsed, copied, copied + n);
      this.#tailUsed += n;
      copied += n;
    }
    return null;
  }

  #flushTail(): void {
    if (this.#tail === null) return;
    if (this.#tailUsed > 0) {
      if (this.#pieces === null) this.#pieces = [];
      this.#pieces.push(this.#tail.subarray(0, this.#tailUsed));
    }
    this.#tail = null;
    this.#tailUsed = 0;
  }
}

function tooBig(maxPayload: number): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.MessageTooBig, CloseCode.MessageTooBig, `message exceeds maxPayload (${maxPayload} bytes)`);
}
