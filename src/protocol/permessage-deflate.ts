/**
 * The permessage-deflate codec (RFC 7692 §7.2): compresses outgoing messages and inflates incoming ones for one
 * connection, behind the core's `MessageExtension` interface.
 *
 * It runs node:zlib *synchronously* inside the core (see docs/decisions/compression-codec.md): each zlib context is
 * driven through its native handle's `writeSync`, the call `zlib.*Sync` makes, with our own bounded output loop. A
 * synchronous codec needs no queue, no callback and no concurrency limit, and it lets every connection that does not
 * keep a context between messages use ONE process-wide context per configuration, reset after each message:
 * - sending with no context takeover: one shared deflate context per (window, level, memLevel, strategy);
 * - receiving with no context takeover: one shared inflate context per window;
 * - a fragmented message (streamed out, or arriving in several frames) borrows a private context for its duration,
 *   since other connections' messages can interleave with its frames; it is closed when the message ends;
 * - context takeover keeps a private context per direction, created on first use and freed by `release()`.
 *
 * Window bits 8: zlib's raw deflate rejects 8 (Node maps it to 9). That is safe for the 8-bit peer: zlib never emits a
 * distance beyond `w_size - MIN_LOOKAHEAD` (512 - 262 = 250 bytes for a 9-bit window), inside the 256-byte window the
 * peer keeps. We inflate an 8-bit window with 9, which accepts everything an 8-bit sender can produce.
 *
 * What it does not do: negotiate (deflate-params.ts does), decide RSV1 or frame anything (the core does), validate
 * UTF-8 (the core does, on the inflated bytes). Input after a final (BFINAL = 1) deflate block is ignored, as zlib
 * and ws do; the inflate context is then reset at the end of the message (RFC 7692 §7.2.3.5).
 */
import { constants as zlibConstants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { MessageExtension } from './extension.js';

/** DEFAULT_DEFLATE_THRESHOLD is the size (bytes) under which a whole message is sent uncompressed: 1024, as in ws. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;

/** Bytes of output each native zlib call may write before we copy them out (shared by every context). */
const SCRATCH_BYTES = 64 * 1024;

/** Final frames up to this size are inflated in one native call, copied with the tail into a shared input buffer. */
const JOIN_TAIL_BELOW_BYTES = 16 * 1024;

// RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end." §7.2.2: "Append 4 octets of
// 0x00 0x00 0xff 0xff to the tail end of the payload of the message."
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// An empty DEFLATE block with no compression, minus the 4 tail octets: the compressed form of "nothing" when the
// context has nothing pending (RFC 7692 §7.2.3.6 shows the empty message as the single octet 0x00).
const EMPTY_BLOCK_HEAD = Buffer.from([0x00]);

/** PerMessageDeflateInit is the negotiated configuration of one connection's permessage-deflate. */
export interface PerMessageDeflateInit {
  /** Which end this connection is: decides which parameters apply to sending and which to receiving. */
  role: 'server' | 'client';
  /** The negotiated `Sec-WebSocket-Extensions` value (the server's response). */
  responseHeader: string;
  /** The server resets its compression context after each message (RFC 7692 §7.1.1.1). */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after each message (RFC 7692 §7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window, 8 to 15 (RFC 7692 §7.1.2.1); 15 when not negotiated. */
  serverMaxWindowBits: number;
  /** The client's LZ77 window, 8 to 15 (RFC 7692 §7.1.2.2); 15 when not negotiated. */
  clientMaxWindowBits: number;
  /** Whole messages smaller than this many bytes are sent uncompressed. Default 1024 (as ws). */
  threshold?: number;
  /** zlib compression level, 0 to 9. Default `zlib.constants.Z_DEFAULT_COMPRESSION` (6). */
  level?: number;
  /** zlib memLevel, 1 to 9: memory of the compressor's hash tables (2^(memLevel+9) bytes). Default 8. */
  memLevel?: number;
  /** zlib strategy. Default `zlib.constants.Z_DEFAULT_STRATEGY`. */
  strategy?: number;
}

// What we use of a Node zlib stream's internals: its native handle and the [availOut, availIn] array it reports into.
interface NativeZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}
interface ZlibStreamInternals {
  _handle: NativeZlibHandle | null;
  _writeState: Uint32Array;
  close(): void;
}

let scratch: Buffer | null = null;
let inputScratch: Buffer | null = null;

/**
 * One zlib context driven synchronously. `write` feeds input and collects all output it produces, copying it out of
 * the shared scratch buffer; it stops (and reports `overflow`) as soon as the output passes `limit`, so an inflated
 * bomb is never held beyond `limit + SCRATCH_BYTES`.
 */
class ZlibEngine {
  readonly #stream: ZlibStreamInternals;
  readonly #handle: NativeZlibHandle;
  readonly #state: Uint32Array;
  #error: string | null = null;
  /** Input left unconsumed by the last write: non-zero after the end of a deflate stream (BFINAL). */
  leftover = 0;

  constructor(kind: 'deflate' | 'inflate', windowBits: number, level: number, memLevel: number, strategy: number) {
    // chunkSize 64 (the minimum): the stream's own output buffer is never used, we write into `scratch`.
    const stream = (
      kind === 'deflate'
        ? createDeflateRaw({ windowBits, level, memLevel, strategy, chunkSize: 64 })
        : createInflateRaw({ windowBits, chunkSize: 64 })
    ) as unknown as ZlibStreamInternals;
    const handle = stream._handle;
    if (handle === null || typeof handle.writeSync !== 'function' || !(stream._writeState instanceof Uint32Array)) {
      throw new Error('node:zlib internals changed: no synchronous handle');
    }
    this.#stream = stream;
    this.#handle = handle;
    this.#state = stream._writeState;
    // Replaces Node's handler, which would destroy the stream: we report the error as a value and reset instead.
    handle.onerror = (message) => {
      this.#error = message;
    };
  }

  /**
   * Feeds `input` with `flush`, appending output chunks to `out`. Returns the total output bytes written by this call,
   * -1 when the output passed `limit` (the context is then mid-stream and must be reset), or -2 on a zlib data error
   * (also needs a reset; the message is in `lastError`).
   */
  write(input: Buffer, flush: number, out: Buffer[], already: number, limit: number): number {
    scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
    const buffer = scratch;
    const state = this.#state;
    let inOff = 0;
    let inLen = input.length;
    let total = already;
    while (true) {
      this.#handle.writeSync(flush, input, inOff, inLen, buffer, 0, SCRATCH_BYTES);
      if (this.#error !== null) return -2;
      const availOut = state[0];
      const availIn = state[1];
      const have = SCRATCH_BYTES - availOut;
      if (have > 0) {
        total += have;
        if (total > limit) return -1;
        const chunk = Buffer.allocUnsafe(have);
        buffer.copy(chunk, 0, 0, have);
        out.push(chunk);
      }
      inOff += inLen - availIn;
      inLen = availIn;
      // zlib stops either because the output buffer is full (call again) or because it has done all it can.
      if (availOut !== 0) {
        this.leftover = availIn;
        return total;
      }
    }
  }

  /** The message of the last zlib error, if any. */
  get lastError(): string | null {
    return this.#error;
  }

  /** Returns the context to its initial state (deflateReset / inflateReset), clearing any error. */
  reset(): void {
    this.#error = null;
    this.leftover = 0;
    this.#handle.reset();
  }

  /** Frees the native context. */
  close(): void {
    this.#stream.close();
  }
}

// Process-wide contexts for connections without context takeover, one per configuration. Safe to share because the
// codec is synchronous: a message is compressed or inflated from start to end before anything else runs.
const sharedEngines = new Map<string, ZlibEngine>();

function sharedEngine(key: string, make: () => ZlibEngine): ZlibEngine {
  let engine = sharedEngines.get(key);
  if (engine === undefined) {
    engine = make();
    sharedEngines.set(key, engine);
  }
  return engine;
}

const EMPTY = Buffer.alloc(0);

function concat(chunks: Buffer[], total: number): Buffer {
  if (chunks.length === 1) return chunks[0];
  if (chunks.length === 0) return EMPTY;
  return Buffer.concat(chunks, total);
}

/**
 * Removes the 4-octet tail a sync flush ends with (RFC 7692 §7.2.1). When the context had nothing to flush (an empty
 * message after a flushed one), zlib writes nothing, and the message becomes the head of an empty stored block so that
 * the receiver's appended tail completes it.
 */
function stripTail(chunks: Buffer[], total: number): Buffer {
  if (total === 0) return EMPTY_BLOCK_HEAD;
  const data = concat(chunks, total);
  return data.subarray(0, data.length - 4);
}

/** Window bits zlib can use for raw deflate/inflate: 8 becomes 9 (see the file header). */
function zlibWindowBits(bits: number): number {
  return bits === 8 ? 9 : bits;
}

/**
 * PerMessageDeflate implements permessage-deflate (RFC 7692) for one connection as the core's `MessageExtension`:
 * synchronous node:zlib, process-wide shared contexts for directions without context takeover, private contexts
 * created lazily otherwise and freed by `release()`.
 */
export class PerMessageDeflate implements MessageExtension {
  /** The extension's name: `'permessage-deflate'`. */
  readonly name = 'permessage-deflate';
  /** The negotiated `Sec-WebSocket-Extensions` value. */
  readonly responseHeader: string;
  /**
   * Names the compressed bytes this connection can share: set when this end sends without context takeover, from the
   * window, level, memLevel and strategy (which fully determine zlib's output); null with context takeover.
   */
  readonly shareKey: string | null;

  readonly #threshold: number;
  readonly #deflateBits: number;
  readonly #deflateNoTakeover: boolean;
  readonly #level: number;
  readonly #memLevel: number;
  readonly #strategy: number;
  readonly #deflateKey: string;
  readonly #inflateBits: number;
  readonly #inflateNoTakeover: boolean;
  readonly #inflateKey: string;

  #deflater: ZlibEngine | null = null;
  #inflater: ZlibEngine | null = null;
  /** A streamed outgoing message is in progress (compressFragment with fin = false was called). */
  #deflating = false;
  /** An incoming compressed message is in progress (decompress with fin = false was called). */
  #inflating = false;
  /** The deflate stream of the incoming message ended (BFINAL); later input of the message is ignored. */
  #inflateEnded = false;

  /** PerMessageDeflate makes the codec for one connection from its negotiated parameters. */
  constructor(init: PerMessageDeflateInit) {
    const server = init.role === 'server';
    this.responseHeader = init.responseHeader;
    this.#threshold = init.threshold ?? DEFAULT_DEFLATE_THRESHOLD;
    this.#level = init.level ?? zlibConstants.Z_DEFAULT_COMPRESSION;
    this.#memLevel = init.memLevel ?? zlibConstants.Z_DEFAULT_MEMLEVEL;
    this.#strategy = init.strategy ?? zlibConstants.Z_DEFAULT_STRATEGY;
    this.#deflateBits = zlibWindowBits(server ? init.serverMaxWindowBits : init.clientMaxWindowBits);
    this.#deflateNoTakeover = server ? init.serverNoContextTakeover : init.clientNoContextTakeover;
    this.#inflateBits = zlibWindowBits(server ? init.clientMaxWindowBits : init.serverMaxWindowBits);
    this.#inflateNoTakeover = server ? init.clientNoContextTakeover : init.serverNoContextTakeover;
    this.#deflateKey = `deflate:${this.#deflateBits}:${this.#level}:${this.#memLevel}:${this.#strategy}`;
    this.#inflateKey = `inflate:${this.#inflateBits}`;
    this.shareKey = this.#deflateNoTakeover ? `permessage-deflate:${this.#deflateKey}` : null;
  }

  #newDeflater(): ZlibEngine {
    return new ZlibEngine('deflate', this.#deflateBits, this.#level, this.#memLevel, this.#strategy);
  }

  #newInflater(): ZlibEngine {
    return new ZlibEngine('inflate', this.#inflateBits, 0, 0, 0);
  }

  /**
   * decompress inflates one frame's payload of a compressed message (RFC 7692 §7.2.2), appending the tail on the last
   * frame. Returns the inflated bytes, a 1009 `ProtocolError` as soon as they would pass `limit` bytes (the bytes
   * inflated so far are dropped), or a 1007 one when the data is not valid DEFLATE.
   */
  decompress(payload: Buffer, fin: boolean, limit: number): Buffer | ProtocolError {
    let engine: ZlibEngine;
    let shared = false;
    if (this.#inflateNoTakeover && fin && !this.#inflating) {
      engine = sharedEngine(this.#inflateKey, () => this.#newInflater());
      shared = true;
    } else {
      engine = this.#inflater ??= this.#newInflater();
    }
    const chunks: Buffer[] = [];
    let total = 0;
    if (this.#inflateEnded) {
      // The deflate stream ended in an earlier frame (BFINAL): the rest of the message is ignored.
    } else if (fin && payload.length <= JOIN_TAIL_BELOW_BYTES) {
      // One native call instead of two: the payload and the tail side by side in a shared input buffer.
      inputScratch ??= Buffer.allocUnsafe(JOIN_TAIL_BELOW_BYTES + TAIL.length);
      payload.copy(inputScratch, 0);
      TAIL.copy(inputScratch, payload.length);
      total = engine.write(inputScratch.subarray(0, payload.length + TAIL.length), zlibConstants.Z_SYNC_FLUSH, chunks, 0, limit);
    } else {
      total = engine.write(payload, zlibConstants.Z_SYNC_FLUSH, chunks, 0, limit);
      if (total >= 0 && engine.leftover !== 0) this.#inflateEnded = true;
      if (total >= 0 && fin && !this.#inflateEnded) {
        total = engine.write(TAIL, zlibConstants.Z_SYNC_FLUSH, chunks, total, limit);
      }
    }
    if (total >= 0 && engine.leftover !== 0) this.#inflateEnded = true;
    if (total < 0) {
      const message = engine.lastError;
      this.#endInflate(engine, shared, true);
      if (total === -1) {
        return new ProtocolError(ProtocolErrorCode.MessageTooBig, 1009, `inflated message exceeds ${limit} more bytes`);
      }
      return new ProtocolError(ProtocolErrorCode.InvalidCompressedData, 1007, `invalid compressed data: ${message ?? 'zlib error'}`);
    }
    if (fin) this.#endInflate(engine, shared, this.#inflateNoTakeover || this.#inflateEnded);
    else this.#inflating = true;
    return concat(chunks, total);
  }

  /** Ends an incoming message: resets the context when asked, and gives back a context borrowed for fragments. */
  #endInflate(engine: ZlibEngine, shared: boolean, reset: boolean): void {
    this.#inflating = false;
    this.#inflateEnded = false;
    if (shared) {
      engine.reset();
    } else if (this.#inflateNoTakeover) {
      engine.close();
      this.#inflater = null;
    } else if (reset) {
      engine.reset();
    }
  }

  /**
   * compress deflates a whole outgoing message (RFC 7692 §7.2.1) and removes the tail, or returns null when the
   * message is smaller than the threshold and goes out uncompressed.
   */
  compress(payload: Buffer): Buffer | null {
    if (payload.length < this.#threshold) return null;
    return this.#deflate(payload, true);
  }

  /**
   * compressFragment deflates one fragment of a streamed message: each fragment is flushed so its bytes can be sent
   * now, and the tail is removed from the last one only (RFC 7692 §7.2.1 applies to the whole message).
   */
  compressFragment(payload: Buffer, fin: boolean): Buffer {
    return this.#deflate(payload, fin);
  }

  #deflate(payload: Buffer, fin: boolean): Buffer {
    let engine: ZlibEngine;
    let shared = false;
    if (this.#deflateNoTakeover && fin && !this.#deflating) {
      engine = sharedEngine(this.#deflateKey, () => this.#newDeflater());
      shared = true;
    } else {
      engine = this.#deflater ??= this.#newDeflater();
    }
    const chunks: Buffer[] = [];
    const total = engine.write(payload, zlibConstants.Z_SYNC_FLUSH, chunks, 0, Number.MAX_SAFE_INTEGER);
    if (total < 0) {
      // Compression cannot fail on valid parameters; a failure here is a bug, not the peer's doing.
      const message = engine.lastError;
      if (shared) engine.reset();
      else this.#dropDeflater();
      throw new Error(`deflate failed: ${message ?? 'unknown zlib error'}`);
    }
    if (!fin) {
      this.#deflating = true;
      return concat(chunks, total);
    }
    const data = stripTail(chunks, total);
    this.#deflating = false;
    // RFC 7692 §7.1.1.1 (and §7.1.1.2 for the client): the sender "MUST start compressing each new message with an
    // empty LZ77 sliding window".
    if (shared) engine.reset();
    else if (this.#deflateNoTakeover) this.#dropDeflater();
    return data;
  }

  #dropDeflater(): void {
    this.#deflater?.close();
    this.#deflater = null;
    this.#deflating = false;
  }

  /**
   * privateContexts tells how many zlib contexts this connection holds of its own (0 to 2): none without context
   * takeover between messages, one per direction with context takeover once that direction was used.
   */
  get privateContexts(): number {
    return (this.#deflater === null ? 0 : 1) + (this.#inflater === null ? 0 : 1);
  }

  /** release frees this connection's private zlib contexts; the shared ones stay for other connections. */
  release(): void {
    this.#dropDeflater();
    this.#inflater?.close();
    this.#inflater = null;
    this.#inflating = false;
    this.#inflateEnded = false;
  }
}
