/**
 * PreparedMessage: a message framed once for many connections (a broadcast), as in DESIGN.md "Hot paths".
 *
 * Holds the unmasked server frame (header + payload, FIN set) and, lazily, one compressed frame per
 * `MessageExtension.shareKey` (compressed once per set of deflate parameters; RFC 7692 §7.1.1.1 makes this sound
 * only without server context takeover, which is what a non-null `shareKey` promises). Client frames are masked per
 * frame and cannot be shared, so `WebSocketProtocol.sendFrame` is server-only.
 */
import type { MessageExtension } from './extension.js';
import { frameHeaderSize, writeFrameHeader } from './frame.js';
import { Opcode } from './opcode.js';

/** PrepareMessageOptions configure `prepareMessage`. */
export interface PrepareMessageOptions {
  /** True for a binary message, false for text (a string is always encoded as UTF-8). */
  binary: boolean;
}

/** PreparedMessage holds one message's frame bytes, shared by every connection it is sent to. */
export class PreparedMessage {
  /** Whether the message is binary. */
  readonly binary: boolean;
  /** The message payload (unmasked, uncompressed). */
  readonly payload: Buffer;
  /** The whole unmasked, uncompressed frame: what a server sends without compression. */
  readonly frame: Buffer;
  #compressed: Map<string, Buffer> | null = null;

  /** PreparedMessage frames `payload` once; use `prepareMessage()` rather than this constructor. */
  constructor(payload: Buffer, options: PrepareMessageOptions) {
    this.binary = options.binary;
    this.payload = payload;
    this.frame = encodeFrame(0x80 | (options.binary ? Opcode.Binary : Opcode.Text), payload);
  }

  /**
   * frameFor returns the frame to send on a server connection with `extension` (which must have a non-null
   * `shareKey`): compressed once per key through `extension.compress`, or the plain frame when it declines.
   */
  frameFor(extension: MessageExtension): Buffer {
    const key = extension.shareKey;
    if (key === null) throw new TypeError('frameFor needs an extension with a shareKey');
    if (this.#compressed === null) this.#compressed = new Map();
    let frame = this.#compressed.get(key);
    if (frame === undefined) {
      const compressed = extension.compress(this.payload);
      frame = compressed === null ? this.frame : encodeFrame(0xc0 | (this.binary ? Opcode.Binary : Opcode.Text), compressed);
      this.#compressed.set(key, frame);
    }
    return frame;
  }
}

/**
 * prepareMessage frames a message once so a server can send the same bytes to many connections with
 * `WebSocketProtocol.sendFrame()`. Strings are encoded as UTF-8; buffers are used without a copy (do not change them
 * afterwards).
 */
export function prepareMessage(data: string | Buffer | ArrayBuffer | ArrayBufferView, options: PrepareMessageOptions): PreparedMessage {
  return new PreparedMessage(toBuffer(data), options);
}

/** toBuffer views data as a Buffer without copying (strings are encoded as UTF-8). */
export function toBuffer(data: string | Buffer | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

function encodeFrame(firstByte: number, payload: Buffer): Buffer {
  const headerLength = frameHeaderSize(payload.length, false);
  const frame = Buffer.allocUnsafe(headerLength + payload.length);
  writeFrameHeader(frame, 0, firstByte, payload.length, false);
  payload.copy(frame, headerLength);
  return frame;
}
