/**
 * FrameParser: the incremental RFC 6455 §5 frame parser, sans-I/O, correct for any split of the byte stream.
 *
 * An explicit state machine (`ParserState`) over a `ByteQueue` of received chunks, pulled one step at a time by
 * protocol.ts: `step()` returns `Step.Message`, `Step.Control`, `Step.Failed` or `Step.NeedMore`, with the result in
 * the parser's fields (no callbacks, no per-frame objects). Header rules are checked on the first two bytes, before
 * the extended length arrives; the length is checked against `maxPayload` before any payload is buffered. Data
 * payloads are consumed as they arrive (handed to the `MessageAssembler`, which unmasks each piece straight into the
 * message's buffer and checks UTF-8), so an invalid text message fails on the piece that carries the bad byte. A
 * frame that is whole in one chunk becomes the message without a copy (unmasked in place), unless the chunk is
 * borrowed: a transport that reads every socket into one reused buffer lends each read, and then nothing may keep a
 * view of it. A borrowed chunk's messages and control payloads are copies (unmasked on the way), and whatever is
 * left of it when the parser needs more bytes is copied into the queue's own memory.
 *
 * Not here: what to do with control frames (protocol.ts), inflation (through the assembler and the extension).
 */
import { CloseCode } from './close-code.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { MessageExtension } from './extension.js';
import { ByteQueue } from './byte-queue.js';
import { MAX_CONTROL_PAYLOAD, MAX_SAFE_PAYLOAD_LENGTH } from './limits.js';
import { maskWord, maskWordInto } from './mask.js';
import { MessageAssembler } from './message-assembler.js';
import { isValidUtf8 } from './utf8.js';

/** ParserState names the parser's states. */
export const ParserState = {
  /** Waiting for (the rest of) a frame header. */
  Header: 0,
  /** Reading a control frame's payload, delivered whole (at most 125 bytes). */
  ControlPayload: 1,
  /** Reading a data frame's payload, piece by piece. */
  DataPayload: 2,
  /** The connection failed: input is ignored. */
  Failed: 3,
} as const;

/** Step names what one `FrameParser.step()` produced. */
export const Step = {
  /** Every queued byte has been used; feed more. */
  NeedMore: 0,
  /** A whole message is in `message` / `messageBinary`. */
  Message: 1,
  /** A control frame is in `controlOpcode` / `controlPayload`. */
  Control: 2,
  /** A rule was broken: `error` says which; the parser is now in `ParserState.Failed`. */
  Failed: 3,
} as const;

/** FrameParserOptions configure a `FrameParser`. */
export interface FrameParserOptions {
  /** `'server'` expects masked frames, `'client'` unmasked ones (RFC 6455 §5.1). */
  role: 'server' | 'client';
  /** Largest message in bytes, after reassembly and inflation. */
  maxPayload: number;
  /** The negotiated extension that grants RSV1, or null. */
  extension: MessageExtension | null;
}

const EMPTY = Buffer.alloc(0);
/**
 * A borrowed chunk up to this size is copied whole when it arrives and then parsed as an owned one (its messages are
 * views of the copy); a longer one is parsed where it lies and each message copied out of it (measured: whole
 * copies win for 32-byte echo, per-message copies for 64 KiB messages, whose bytes are then copied once, not twice).
 */
const BORROWED_COPY_MAX_BYTES = 16 * 1024;
/** Header bytes copied here only when a header spans chunks. */
const headerScratch = Buffer.alloc(14);

/** FrameParser turns received bytes into messages, control frames or a failure (see the module header). */
export class FrameParser {
  readonly #queue = new ByteQueue();
  /** Made on the first message that is fragmented, split across reads or compressed. */
  #assembler: MessageAssembler | null = null;
  readonly #expectMasked: boolean;
  readonly #maxPayload: number;
  readonly #extension: MessageExtension | null;
  #state: number = ParserState.Header;
  #opcode = 0;
  #fin = false;
  #masked = false;
  #remaining = 0;
  #phase = 0;
  /** The frame's masking key, packed by `maskKeyWord`. */
  #maskKey = 0;
  /** Whether a borrowed chunk is queued (see `push`). */
  #borrowed = false;

  /** The message of the last `Step.Message`. */
  message: Buffer = EMPTY;
  /** Whether that message is binary. */
  messageBinary = false;
  /** The opcode of the last `Step.Control` (8, 9 or 10). */
  controlOpcode = 0;
  /** The unmasked payload of that control frame. */
  controlPayload: Buffer = EMPTY;
  /** Why the parser failed (after `Step.Failed`). */
  error: ProtocolError | null = null;

  /** FrameParser makes a parser for one connection. */
  constructor(options: FrameParserOptions) {
    this.#expectMasked = options.role === 'server';
    this.#maxPayload = options.maxPayload;
    this.#extension = options.extension;
  }

  /** state is the current `ParserState`. */
  get state(): number {
    return this.#state;
  }

  /** buffered is the number of received bytes not parsed yet. */
  get buffered(): number {
    return this.#queue.length;
  }

  /**
   * push queues a received chunk (ignored after a failure). The parser may unmask it in place. A `borrowed` chunk is
   * reused by the transport once `step()` returned `Step.NeedMore` (or the parser stopped): nothing handed out is a
   * view of it, and what is left of it is copied then.
   */
  push(chunk: Buffer, borrowed = false): void {
    if (this.#state === ParserState.Failed) return;
    if (borrowed && chunk.length <= BORROWED_COPY_MAX_BYTES) {
      // One copy of a short read costs less than copying each of its (then small) messages out of it.
      const owned = Buffer.allocUnsafe(chunk.length);
      chunk.copy(owned, 0);
      this.#queue.push(owned);
      return;
    }
    this.#queue.push(chunk);
    if (borrowed) this.#borrowed = true;
  }

  /** stop drops everything buffered and ignores further input (after a close or the end of the stream). */
  stop(): void {
    this.#state = ParserState.Failed;
    this.#queue.clear();
    this.#borrowed = false;
    this.#assembler = null;
  }

  /** step parses until one result is ready or more bytes are needed, and returns a `Step`. */
  step(): number {
    const step = this.#step();
    if (step === Step.NeedMore && this.#borrowed) {
      this.#queue.compact();
      this.#borrowed = false;
    }
    return step;
  }

  #step(): number {
    const q = this.#queue;
    for (;;) {
      const assembler = this.#assembler;
      const state = this.#state;
      if (state === ParserState.Header) {
        if (q.length < 2) return Step.NeedMore;
        const b0 = q.byteAt(0);
        const b1 = q.byteAt(1);
        const opcode = b0 & 0x0f;
        const fin = (b0 & 0x80) !== 0;
        const rsv1 = (b0 & 0x40) !== 0;
        // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for non-zero values.
        // If a nonzero value is received and none of the negotiated extensions defines the meaning of such a
        // nonzero value, the receiving endpoint MUST _Fail the WebSocket Connection_."
        if ((b0 & 0x20) !== 0) return this.#fail(ProtocolErrorCode.UnexpectedRsv2, CloseCode.ProtocolError, 'RSV2 must be clear');
        if ((b0 & 0x10) !== 0) return this.#fail(ProtocolErrorCode.UnexpectedRsv3, CloseCode.ProtocolError, 'RSV3 must be clear');
        const masked = (b1 & 0x80) !== 0;
        if (masked !== this.#expectMasked) {
          // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not masked." and
          // "A client MUST close a connection if it detects a masked frame."
          return masked
            ? this.#fail(ProtocolErrorCode.UnexpectedMask, CloseCode.ProtocolError, 'a server must not mask its frames')
            : this.#fail(ProtocolErrorCode.ExpectedMask, CloseCode.ProtocolError, 'a client must mask its frames');
        }
        let length = b1 & 0x7f;
        if (opcode >= 0x8) {
          if (opcode > 0xa) return this.#fail(ProtocolErrorCode.InvalidOpcode, CloseCode.ProtocolError, `invalid opcode ${opcode}`);
          // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
          if (!fin) return this.#fail(ProtocolErrorCode.FragmentedControlFrame, CloseCode.ProtocolError, 'control frames must not be fragmented');
          if (length > MAX_CONTROL_PAYLOAD) return this.#fail(ProtocolErrorCode.ControlFrameTooLong, CloseCode.ProtocolError, 'control frame payload over 125 bytes');
          // RFC 7692 §6: per-message compression sets RSV1 on the first frame of a data message only.
          if (rsv1) return this.#fail(ProtocolErrorCode.UnexpectedRsv1, CloseCode.ProtocolError, 'RSV1 on a control frame');
        } else if (opcode === 0x0) {
          // RFC 6455 §5.4: continuation frames only follow an unfinished data frame.
          if (assembler === null || !assembler.active) return this.#fail(ProtocolErrorCode.UnexpectedContinuation, CloseCode.ProtocolError, 'continuation frame without a message in progress');
          if (rsv1) return this.#fail(ProtocolErrorCode.UnexpectedRsv1, CloseCode.ProtocolError, 'RSV1 on a continuation frame');
        } else if (opcode <= 0x2) {
          // RFC 6455 §5.4: "The fragments of one message MUST NOT be interleaved between the fragments of another
          // message unless an extension has been negotiated that can interpret the interleaving."
          if (assembler !== null && assembler.active) return this.#fail(ProtocolErrorCode.ExpectedContinuation, CloseCode.ProtocolError, 'new data frame while a fragmented message is in progress');
          if (rsv1 && this.#extension === null) return this.#fail(ProtocolErrorCode.UnexpectedRsv1, CloseCode.ProtocolError, 'RSV1 without a negotiated extension');
        } else {
          return this.#fail(ProtocolErrorCode.InvalidOpcode, CloseCode.ProtocolError, `invalid opcode ${opcode}`);
        }
        const extended = length === 126 ? 2 : length === 127 ? 8 : 0;
        const headerLength = 2 + extended + (masked ? 4 : 0);
        if (q.length < headerLength) return Step.NeedMore;
        let header: Buffer;
        let at: number;
        if (q.contiguous(headerLength)) {
          header = q.head;
          at = q.headOffset;
        } else {
          for (let i = 0; i < headerLength; i++) headerScratch[i] = q.byteAt(i);
          header = headerScratch;
          at = 0;
        }
        if (extended === 2) {
          length = (header[at + 2] << 8) | header[at + 3];
        } else if (extended === 8) {
          const high = header.readUInt32BE(at + 2);
          // RFC 6455 §5.2: "the most significant bit MUST be 0".
          if (high >= 0x80000000) return this.#fail(ProtocolErrorCode.InvalidPayloadLength, CloseCode.ProtocolError, '64-bit payload length with the most significant bit set');
          length = high * 0x100000000 + header.readUInt32BE(at + 6);
          if (length > MAX_SAFE_PAYLOAD_LENGTH) return this.#tooBig();
        }
        if (masked) {
          const k = at + 2 + extended;
          this.#maskKey = header[k] | (header[k + 1] << 8) | (header[k + 2] << 16) | (header[k + 3] << 24);
        }
        q.skip(headerLength);
        this.#opcode = opcode;
        this.#fin = fin;
        this.#masked = masked;
        this.#remaining = length;
        this.#phase = 0;
        if (opcode >= 0x8) {
          this.#state = ParserState.ControlPayload;
          continue;
        }
        // The limit is checked on the announced length, before a byte of the payload is buffered.
        if (length > this.#maxPayload - (assembler === null ? 0 : assembler.rawBytes)) return this.#tooBig();
        if (fin && opcode !== 0 && !rsv1 && (length === 0 || q.contiguous(length))) {
          // The common case: a whole unfragmented frame in one chunk becomes the message without a copy (a borrowed
          // chunk's with one, unmasked on the way).
          let data = length === 0 ? EMPTY : q.takePiece(length);
          if (this.#borrowed && length > 0) {
            const piece = data;
            data = Buffer.allocUnsafe(length);
            if (masked) maskWordInto(piece, 0, length, data, 0, this.#maskKey, 0);
            else data.set(piece);
          } else if (masked) {
            maskWord(data, 0, length, this.#maskKey, 0);
          }
          if (opcode === 0x1 && !isValidUtf8(data)) {
            return this.#fail(ProtocolErrorCode.InvalidUtf8, CloseCode.InvalidFramePayloadData, 'text message is not valid UTF-8');
          }
          this.message = data;
          this.messageBinary = opcode === 0x2;
          return Step.Message;
        }
        (assembler ?? (this.#assembler = new MessageAssembler({ maxPayload: this.#maxPayload, extension: this.#extension }))).startFrame(opcode, fin, rsv1, length);
        this.#state = ParserState.DataPayload;
        continue;
      }
      if (state === ParserState.DataPayload) {
        if (this.#remaining > 0) {
          if (q.length === 0) return Step.NeedMore;
          const piece = q.takePiece(this.#remaining);
          const n = piece.length;
          // A borrowed chunk must not be kept: as if keeping a piece retained unbounded memory (the assembler copies).
          const sourceLength = this.#borrowed ? Number.POSITIVE_INFINITY : q.lastSourceLength;
          let error: ProtocolError | null;
          if (this.#masked) {
            // Unmasked on the way into the message's buffer (one pass), not in place and then copied.
            error = (assembler as MessageAssembler).addMaskedPayload(piece, sourceLength, this.#maskKey, this.#phase);
            this.#phase = (this.#phase + n) & 3;
          } else {
            error = (assembler as MessageAssembler).addPayload(piece, sourceLength);
          }
          this.#remaining -= n;
          if (error !== null) return this.#failWith(error);
          if (this.#remaining > 0) continue;
        }
        this.#state = ParserState.Header;
        const error = (assembler as MessageAssembler).endFrame();
        if (error !== null) return this.#failWith(error);
        if (this.#fin) {
          this.messageBinary = (assembler as MessageAssembler).binary;
          this.message = (assembler as MessageAssembler).takeMessage();
          return Step.Message;
        }
        continue;
      }
      if (state === ParserState.ControlPayload) {
        if (q.length < this.#remaining) return Step.NeedMore;
        let payload = q.consume(this.#remaining);
        if (this.#borrowed && payload.length > 0) payload = Buffer.from(payload);
        if (this.#masked) maskWord(payload, 0, payload.length, this.#maskKey, 0);
        this.#state = ParserState.Header;
        this.controlOpcode = this.#opcode;
        this.controlPayload = payload;
        return Step.Control;
      }
      return Step.NeedMore;
    }
  }

  #tooBig(): number {
    return this.#fail(ProtocolErrorCode.MessageTooBig, CloseCode.MessageTooBig, `message exceeds maxPayload (${this.#maxPayload} bytes)`);
  }

  #fail(code: string, closeCode: number, message: string): number {
    return this.#failWith(new ProtocolError(code, closeCode, message));
  }

  #failWith(error: ProtocolError): number {
    this.error = error;
    this.stop();
    return Step.Failed;
  }
}
