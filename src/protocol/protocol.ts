/**
 * WebSocketProtocol: one connection's RFC 6455 state machine after the opening handshake, sans-I/O
 * (the python-websockets design; docs/design.md is the contract).
 *
 * Bytes in (`receive`, `receiveEof`), events out (`takeEvents`); calls in (`sendText`, `close`, ...), bytes out
 * (`takeOutgoing`). Implements RFC 6455 §5 (framing, masking, fragmentation, control frames), §7 (closing: §7.1.7
 * fail, §5.5.1 answering a Close, §7.4 codes) and §8.1 (UTF-8), with RFC 7692 compression through a
 * `MessageExtension`. It never throws on bad input: a violation fails the connection (a Close frame is queued, an
 * `error` event carries the `ProtocolError`, input is then ignored). It throws only on API misuse, documented per
 * method. Not here: sockets, timers (the close timeout, heartbeats), backpressure policy, decoding text.
 */
import { CloseCode, isValidReceivedCloseCode, isValidSendCloseCode } from './close-code.js';
import { InvalidStateError, ProtocolError, ProtocolErrorCode } from './errors.js';
import type { MessageExtension } from './extension.js';
import { FrameParser, Step } from './frame-parser.js';
import { frameHeaderSize, writeFrameHeader } from './frame.js';
import { COALESCE_MAX_BYTES, DEFAULT_MAX_PAYLOAD, MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD, MAX_SAFE_PAYLOAD_LENGTH } from './limits.js';
import { fillMaskKey, maskRange } from './mask.js';
import { Opcode } from './opcode.js';
import { OutgoingQueue } from './outgoing-queue.js';
import type { PreparedMessage } from './prepared-message.js';
import { toBuffer } from './prepared-message.js';
import { isValidUtf8 } from './utf8.js';

/** Role says which end of the connection this is. */
export type Role = 'server' | 'client';

/** ReadyState names the connection states (the WHATWG numbering). */
export const ReadyState = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;

/** ReadyStateValue is one of the `ReadyState` values. */
export type ReadyStateValue = (typeof ReadyState)[keyof typeof ReadyState];

/** ProtocolOptions configure a `WebSocketProtocol`. */
export interface ProtocolOptions {
  /** Which end this is: a server expects masked frames and never masks; a client masks every frame. */
  role: Role;
  /**
   * Largest received message in bytes, after reassembly and inflation. Default: `DEFAULT_MAX_PAYLOAD` (100 MiB).
   * 0 means no limit (beyond 2^53 - 1), as in ws.
   */
  maxPayload?: number;
  /** The negotiated per-message extension (permessage-deflate), or none. Default: null. */
  extension?: MessageExtension | null;
  /** Client only: fills a 4-byte masking key. Default: a crypto-random pool (mask.ts). */
  maskSource?: (key: Buffer) => void;
}

/**
 * ProtocolEvent is what `takeEvents()` reports. `data` may be a view of a received chunk (no copy): keep it or copy
 * it, but the core never touches it again.
 */
export type ProtocolEvent =
  /** A whole message; text is already validated UTF-8 (decoding it is the driver's choice). */
  | { type: 'message'; data: Buffer; binary: boolean }
  /** A Ping arrived; the Pong reply is already queued (unless a Close was sent). */
  | { type: 'ping'; data: Buffer }
  /** A Pong arrived (solicited or not). */
  | { type: 'pong'; data: Buffer }
  /** A Close frame arrived (code 1005 when it had none); the answering Close is already queued if needed. */
  | { type: 'close'; code: number; reason: string }
  /** The core failed the connection: the Close frame is queued and input is ignored from now on. */
  | { type: 'error'; error: ProtocolError };

/** CloseInfo is a close code and reason, sent or received. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** FragmentOpcode is the data type a streamed message starts with. */
export type FragmentOpcode = 'text' | 'binary';

const EMPTY = Buffer.alloc(0);

/** Bits of `WebSocketProtocol.#bits` above the ready state (bits 0-1). */
const Bit = { client: 4, reading: 8, eof: 16, fragmentCompressed: 32 } as const;

/**
 * WebSocketProtocol is one connection's sans-I/O RFC 6455 state machine (see the module header); it starts Open.
 */
export class WebSocketProtocol {
  // Memory: an idle connection is mostly this object's fields (8 bytes each), so its booleans and its ready state
  // share one small integer, `#bits`: the ready state in bits 0-1, then the `Bit` flags, read through the private
  // accessors below.
  #bits: number = ReadyState.Open | Bit.reading;
  // The parser, the outgoing queue and the event list are made on first use: an idle connection (most of a chat
  // server's 10,000) holds none of them, only this object's fields.
  #parser: FrameParser | null = null;
  #out: OutgoingQueue | null = null;
  #events: ProtocolEvent[] | null = null;
  readonly #maxPayload: number;
  readonly #extension: MessageExtension | null;
  readonly #maskSource: ((key: Buffer) => void) | null;
  #maskScratch: Buffer | null = null;
  #closeReceived: CloseInfo | null = null;
  #closeSent: CloseInfo | null = null;
  #failure: ProtocolError | null = null;
  /** Opcode of the streamed message in progress (`sendFragment`), or -1. */
  #fragmentOpcode = -1;

  /** Whether this is the client end (it masks what it sends and expects nothing masked). */
  get #client(): boolean {
    return (this.#bits & Bit.client) !== 0;
  }
  /** Whether received bytes are still parsed (until a Close, a failure or the end of the stream). */
  get #reading(): boolean {
    return (this.#bits & Bit.reading) !== 0;
  }
  set #reading(on: boolean) {
    this.#bits = on ? this.#bits | Bit.reading : this.#bits & ~Bit.reading;
  }
  /** Whether the peer's byte stream ended. */
  get #eof(): boolean {
    return (this.#bits & Bit.eof) !== 0;
  }
  set #eof(on: boolean) {
    this.#bits = on ? this.#bits | Bit.eof : this.#bits & ~Bit.eof;
  }
  /** Whether the streamed message in progress is compressed. */
  get #fragmentCompressed(): boolean {
    return (this.#bits & Bit.fragmentCompressed) !== 0;
  }
  set #fragmentCompressed(on: boolean) {
    this.#bits = on ? this.#bits | Bit.fragmentCompressed : this.#bits & ~Bit.fragmentCompressed;
  }
  get #readyState(): ReadyStateValue {
    return (this.#bits & 3) as ReadyStateValue;
  }
  set #readyState(state: ReadyStateValue) {
    this.#bits = (this.#bits & ~3) | state;
  }

  /** WebSocketProtocol makes the state machine of one open connection. */
  constructor(options: ProtocolOptions) {
    if (options.role === 'client') this.#bits |= Bit.client;
    this.#extension = options.extension ?? null;
    this.#maskSource = options.maskSource ?? null;
    this.#maxPayload = resolveMaxPayload(options.maxPayload);
  }

  /** role says which end of the connection this is. */
  get role(): Role {
    return this.#client ? 'client' : 'server';
  }

  /** readyState is Open, then Closing once a Close was sent or received (or on failure), Closed after both or EOF. */
  get readyState(): ReadyStateValue {
    return this.#readyState;
  }

  /** closeReceived is the peer's Close frame (code 1005 when it had none), or null. */
  get closeReceived(): CloseInfo | null {
    return this.#closeReceived;
  }

  /** closeSent is the Close frame we queued (code 1005 when it had none), or null. */
  get closeSent(): CloseInfo | null {
    return this.#closeSent;
  }

  /** failure is why the core (or the driver through `fail`) failed the connection, or null. */
  get failure(): ProtocolError | null {
    return this.#failure;
  }

  /** outgoingBytes is the number of bytes queued and not yet taken with `takeOutgoing()`. */
  get outgoingBytes(): number {
    return this.#out === null ? 0 : this.#out.bytes;
  }

  /** wasClean is true when both Close frames were exchanged (RFC 6455 §7.1.4, as far as the core can tell). */
  get wasClean(): boolean {
    return this.#closeSent !== null && this.#closeReceived !== null && this.#failure === null;
  }

  /**
   * receive feeds bytes from the peer and turns them into events; it never throws on bad input. The chunk is owned
   * by the core from now on (payloads are unmasked in place and events may be views of it), unless it is `borrowed`:
   * then the caller reuses its memory once `receive` returns (one read buffer for every socket), so the core may
   * still write to it but keeps no view of it: events carry copies and unparsed bytes are copied.
   */
  receive(chunk: Buffer | Uint8Array, borrowed = false): void {
    if (!this.#reading) return;
    const parser = (this.#parser ??= new FrameParser({ role: this.role, maxPayload: this.#maxPayload, extension: this.#extension }));
    parser.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength), borrowed);
    for (;;) {
      const step = parser.step();
      if (step === Step.NeedMore) return;
      if (step === Step.Message) {
        this.#event({ type: 'message', data: parser.message, binary: parser.messageBinary });
        // Not kept here: an idle connection must not pin its last socket read.
        parser.message = EMPTY;
      } else if (step === Step.Control) {
        const payload = parser.controlPayload;
        parser.controlPayload = EMPTY;
        this.#onControl(parser.controlOpcode, payload);
        if (!this.#reading) return;
      } else {
        this.#failConnection(parser.error as ProtocolError);
        return;
      }
    }
  }

  /**
   * receiveEof tells the core the peer ended the byte stream (or the socket closed). Without a received Close this
   * is an abnormal closure (1006, reported by the driver); either way the state becomes Closed.
   */
  receiveEof(): void {
    this.#eof = true;
    this.#stopReading();
    this.#readyState = ReadyState.Closed;
  }

  /** takeEvents returns the events since the last call, oldest first (an empty array when none). */
  takeEvents(): ProtocolEvent[] {
    const events = this.#events;
    if (events === null) return [];
    this.#events = null;
    return events;
  }

  /** takeOutgoing returns the bytes to write, in order, small frames already coalesced into one Buffer. */
  takeOutgoing(): Buffer[] {
    return this.#out === null ? [] : this.#out.take();
  }

  /**
   * closeExpected says whether the driver should close the TCP connection now: after any failure or EOF, and on a
   * server once both Close frames passed (RFC 6455 §7.1.1: "The underlying TCP connection, in most normal cases,
   * SHOULD be closed first by the server"). A client waits for the server to close it (with the driver's timeout).
   */
  closeExpected(): boolean {
    if (this.#failure !== null || this.#eof) return true;
    return !this.#client && this.#closeSent !== null && this.#closeReceived !== null;
  }

  /** sendText queues one whole text message (a string is encoded as UTF-8; a Buffer must already be UTF-8). */
  sendText(data: string | Buffer): void {
    if (!this.#canSend()) return;
    this.#sendMessage(Opcode.Text, data);
  }

  /** sendBinary queues one whole binary message. Buffers are queued without a copy when large: do not change them. */
  sendBinary(data: Buffer | ArrayBuffer | ArrayBufferView): void {
    if (!this.#canSend()) return;
    this.#sendMessage(Opcode.Binary, toBuffer(data));
  }

  /**
   * sendFragment queues one frame of a streamed message: the first call picks the type, `fin` ends the message.
   * With an extension every fragment is compressed (RSV1 on the first). The `opcode` of later calls is ignored;
   * `sendText`/`sendBinary` throw `InvalidStateError` until the streamed message ends. Data is queued uncopied
   * when large (do not change it).
   */
  sendFragment(opcode: FragmentOpcode, data: Buffer, fin: boolean): void {
    if (!this.#canSend()) return;
    let firstByte: number;
    let payload = data;
    const extension = this.#extension;
    if (this.#fragmentOpcode === -1) {
      const op = opcode === 'binary' ? Opcode.Binary : Opcode.Text;
      this.#fragmentOpcode = op;
      this.#fragmentCompressed = extension !== null;
      firstByte = this.#fragmentCompressed ? 0x40 | op : op;
    } else {
      firstByte = Opcode.Continuation;
    }
    if (this.#fragmentCompressed) {
      const compressed = this.#compress(data, fin, true);
      if (compressed === null) return;
      payload = compressed;
    }
    if (fin) {
      firstByte |= 0x80;
      this.#fragmentOpcode = -1;
      this.#fragmentCompressed = false;
    }
    this.#queueFrame(firstByte, payload, false);
  }

  /**
   * sendFrame queues a message framed by `prepareMessage()` (server only: throws `InvalidStateError` on a client,
   * whose frames must be masked). The prepared bytes are queued as they are, not copied per connection.
   */
  sendFrame(prepared: PreparedMessage): void {
    if (this.#client) throw new InvalidStateError('sendFrame is for servers: client frames are masked per frame');
    if (!this.#canSend()) return;
    const extension = this.#extension;
    if (extension === null) {
      this.#queue().pushChunk(prepared.frame);
    } else if (extension.shareKey !== null) {
      let bytes: Buffer;
      try {
        bytes = prepared.frameFor(extension);
      } catch (error) {
        this.#internalError(error);
        return;
      }
      this.#queue().pushChunk(bytes);
    } else {
      this.#sendMessage(prepared.binary ? Opcode.Binary : Opcode.Text, prepared.payload);
    }
  }

  /** ping queues a Ping; `data` is at most 125 bytes (else throws `RangeError`). Dropped after a Close was sent. */
  ping(data: Buffer = EMPTY): void {
    checkControlPayload(data);
    if (this.#closeSent !== null || this.#failure !== null || this.#eof) return;
    this.#queueFrame(0x80 | Opcode.Ping, data, true);
  }

  /** pong queues an unsolicited Pong; `data` is at most 125 bytes (else throws `RangeError`). Dropped after a Close. */
  pong(data: Buffer = EMPTY): void {
    checkControlPayload(data);
    if (this.#closeSent !== null || this.#failure !== null || this.#eof) return;
    this.#queueFrame(0x80 | Opcode.Pong, data, true);
  }

  /**
   * close starts the closing handshake (RFC 6455 §7.1.2): queues a Close frame with `code` and `reason`, or an empty
   * one when `code` is omitted. Throws `TypeError` when `code` may not be sent (see `isValidSendCloseCode`) or a
   * reason comes without a code, `RangeError` when the reason is over 123 bytes of UTF-8. Does nothing once a Close
   * was sent or the connection failed or ended.
   */
  close(code?: number, reason = ''): void {
    let payload: Buffer;
    if (code === undefined) {
      if (reason !== '') throw new TypeError('a close reason needs a close code');
      payload = EMPTY;
    } else {
      if (!isValidSendCloseCode(code)) throw new TypeError(`close code ${String(code)} may not be sent`);
      payload = closePayload(code, reason);
    }
    if (this.#closeSent !== null || this.#failure !== null || this.#eof) return;
    this.#sendClose(code ?? CloseCode.NoStatusReceived, reason, payload);
  }

  /**
   * fail fails the connection (RFC 6455 §7.1.7) for the driver: queues a Close with `code` and `reason` (unless one
   * was sent already, or `code` is not sendable, e.g. 1006 to abort without a Close), stops reading, and makes
   * `closeExpected()` true. A reason over 123 bytes is cut at a character boundary. Never throws.
   */
  fail(code: number, reason = ''): void {
    if (this.#failure !== null || this.#eof) return;
    this.#failure = new ProtocolError(ProtocolErrorCode.Failed, code, reason);
    this.#stopReading();
    if (this.#closeSent === null && isValidSendCloseCode(code)) {
      const bytes = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
      const payload = Buffer.allocUnsafe(2 + bytes.length);
      payload.writeUInt16BE(code, 0);
      bytes.copy(payload, 2);
      this.#sendClose(code, bytes.toString('utf8'), payload);
    }
    if (this.#readyState === ReadyState.Open) this.#readyState = ReadyState.Closing;
  }

  #queue(): OutgoingQueue {
    return (this.#out ??= new OutgoingQueue());
  }

  #event(event: ProtocolEvent): void {
    (this.#events ??= []).push(event);
  }

  #canSend(): boolean {
    // RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data frames."
    return this.#closeSent === null && this.#failure === null && !this.#eof;
  }

  #onControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) {
      // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response, unless it
      // already received a Close frame." and §5.5.3: "A Pong frame sent in response to a Ping frame must have
      // identical 'Application data' as found in the message body of the Ping frame being replied to."
      if (this.#closeSent === null) this.#queueFrame(0x80 | Opcode.Pong, payload, true);
      this.#event({ type: 'ping', data: payload });
      return;
    }
    if (opcode === Opcode.Pong) {
      this.#event({ type: 'pong', data: payload });
      return;
    }
    // Close. RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte unsigned integer
    // ... Following the 2-byte integer, the body MAY contain UTF-8-encoded data".
    let code: number = CloseCode.NoStatusReceived;
    let reason = '';
    if (payload.length === 1) {
      this.#failConnection(new ProtocolError(ProtocolErrorCode.InvalidClosePayload, CloseCode.ProtocolError, 'close frame with a 1-byte payload'));
      return;
    }
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      // RFC 6455 §7.4: 1005, 1006 and 1015 never appear on the wire, nor unassigned codes below 3000.
      if (!isValidReceivedCloseCode(code)) {
        this.#failConnection(new ProtocolError(ProtocolErrorCode.InvalidCloseCode, CloseCode.ProtocolError, `invalid close code ${code}`));
        return;
      }
      if (payload.length > 2) {
        const reasonBytes = payload.subarray(2);
        if (!isValidUtf8(reasonBytes)) {
          this.#failConnection(new ProtocolError(ProtocolErrorCode.InvalidUtf8, CloseCode.InvalidFramePayloadData, 'close reason is not valid UTF-8'));
          return;
        }
        reason = reasonBytes.toString('utf8');
      }
    }
    this.#closeReceived = { code, reason };
    // RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data frames", so nothing
    // the peer sends after its Close is read.
    this.#stopReading();
    if (this.#closeSent === null) {
      // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame, the
      // endpoint MUST send a Close frame in response. (When sending a Close frame in response, the endpoint
      // typically echos the status code it received.)" We echo the code and the reason.
      this.#sendClose(code, reason, payload.length === 0 ? EMPTY : Buffer.from(payload));
    } else {
      this.#readyState = ReadyState.Closed;
    }
    this.#event({ type: 'close', code, reason });
  }

  #failConnection(error: ProtocolError): void {
    // RFC 6455 §7.1.7: "the endpoint SHOULD send a Close frame with an appropriate status code (Section 7.4) before
    // proceeding to _Close the WebSocket Connection_". We do, without a reason (the message stays local), unless a
    // Close was sent already.
    this.#failure = error;
    this.#stopReading();
    if (this.#closeSent === null) {
      const payload = Buffer.allocUnsafe(2);
      payload.writeUInt16BE(error.closeCode, 0);
      this.#sendClose(error.closeCode, '', payload);
    }
    if (this.#readyState === ReadyState.Open) this.#readyState = ReadyState.Closing;
    this.#event({ type: 'error', error });
  }

  #stopReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#parser?.stop();
    // Nothing is inflated after this, and nothing compressed after the Close this always comes with.
    if (this.#extension !== null) this.#extension.release();
  }

  #sendClose(code: number, reason: string, payload: Buffer): void {
    this.#queueFrame(0x80 | Opcode.Close, payload, true);
    this.#closeSent = { code, reason };
    this.#readyState = this.#closeReceived !== null ? ReadyState.Closed : ReadyState.Closing;
  }

  #sendMessage(opcode: number, data: string | Buffer): void {
    if (this.#fragmentOpcode !== -1) {
      throw new InvalidStateError('a streamed message (sendFragment) is in progress; finish it with fin = true first');
    }
    const extension = this.#extension;
    if (extension !== null) {
      const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      const compressed = this.#compress(payload, true, false);
      if (this.#failure !== null) return;
      if (compressed !== null) this.#queueFrame(0xc0 | opcode, compressed, true);
      else this.#queueFrame(0x80 | opcode, payload, false);
      return;
    }
    if (typeof data === 'string') this.#queueString(0x80 | opcode, data);
    else this.#queueFrame(0x80 | opcode, data, false);
  }

  /**
   * Runs the extension's compressor (`fragment`: `compressFragment`, else `compress`). A throw is an internal failure:
   * the connection fails with 1011 and null is returned.
   */
  #compress(payload: Buffer, fin: boolean, fragment: boolean): Buffer | null {
    const extension = this.#extension as MessageExtension;
    try {
      return fragment ? extension.compressFragment(payload, fin) : extension.compress(payload);
    } catch (error) {
      this.#internalError(error);
      return null;
    }
  }

  #internalError(error: unknown): void {
    // DESIGN.md: "Internal failures send 1011 without details."
    this.#failConnection(new ProtocolError(ProtocolErrorCode.InternalError, CloseCode.InternalError, `compression failed: ${String(error)}`));
  }

  /** Writes a string frame straight into the slab when small: no intermediate Buffer. */
  #queueString(firstByte: number, text: string): void {
    const masked = this.#client;
    if (text.length <= 41) {
      // At most 3 UTF-8 bytes per UTF-16 unit: 41 units fit the 7-bit length (<= 123 bytes).
      const headerLength = masked ? 6 : 2;
      const out = this.#queue();
      const at = out.reserve(headerLength + text.length * 3);
      const buffer = out.buffer;
      const written = text.length === 0 ? 0 : buffer.write(text, at + headerLength, 'utf8');
      buffer[at] = firstByte;
      buffer[at + 1] = masked ? 0x80 | written : written;
      if (masked) this.#writeMask(buffer, at + 2, at + 6, at + 6 + written);
      out.commit(at + headerLength + written);
      return;
    }
    const length = Buffer.byteLength(text, 'utf8');
    const headerLength = frameHeaderSize(length, masked);
    if (headerLength + length > COALESCE_MAX_BYTES) {
      this.#queueFrame(firstByte, Buffer.from(text, 'utf8'), true);
      return;
    }
    const out = this.#queue();
    const at = out.reserve(headerLength + length);
    const buffer = out.buffer;
    const payloadAt = writeFrameHeader(buffer, at, firstByte, length, masked) + (masked ? 4 : 0);
    buffer.write(text, payloadAt, length, 'utf8');
    if (masked) this.#writeMask(buffer, payloadAt - 4, payloadAt, payloadAt + length);
    out.commit(payloadAt + length);
  }

  /**
   * Queues one frame. Small frames are copied into the shared slab (coalesced); large payloads are queued as their
   * own chunk: uncopied on a server, masked into a copy on a client unless `owned` (then masked in place).
   */
  #queueFrame(firstByte: number, payload: Buffer, owned: boolean): void {
    const masked = this.#client;
    const length = payload.length;
    const headerLength = frameHeaderSize(length, masked);
    const out = this.#queue();
    if (headerLength + length <= COALESCE_MAX_BYTES) {
      const at = out.reserve(headerLength + length);
      const buffer = out.buffer;
      const payloadAt = writeFrameHeader(buffer, at, firstByte, length, masked) + (masked ? 4 : 0);
      if (length > 0) payload.copy(buffer, payloadAt);
      if (masked) this.#writeMask(buffer, payloadAt - 4, payloadAt, payloadAt + length);
      out.commit(payloadAt + length);
      return;
    }
    const at = out.reserve(headerLength);
    const buffer = out.buffer;
    const keyAt = writeFrameHeader(buffer, at, firstByte, length, masked);
    if (!masked) {
      out.commit(keyAt);
      out.pushChunk(payload);
      return;
    }
    this.#writeMask(buffer, keyAt, keyAt, keyAt);
    out.commit(keyAt + 4);
    let body = payload;
    if (!owned) {
      body = Buffer.allocUnsafe(length);
      payload.copy(body);
    }
    maskRange(body, 0, length, buffer, keyAt, 0);
    out.pushChunk(body);
  }

  /** Writes a masking key at `keyAt` and masks `buffer[start..end)` with it (RFC 6455 §5.3). */
  #writeMask(buffer: Buffer, keyAt: number, start: number, end: number): void {
    const source = this.#maskSource;
    if (source === null) {
      fillMaskKey(buffer, keyAt);
    } else {
      const scratch = (this.#maskScratch ??= Buffer.alloc(4));
      source(scratch);
      scratch.copy(buffer, keyAt, 0, 4);
    }
    if (end > start) maskRange(buffer, start, end, buffer, keyAt, 0);
  }
}

function resolveMaxPayload(maxPayload: number | undefined): number {
  if (maxPayload === undefined) return DEFAULT_MAX_PAYLOAD;
  return maxPayload > 0 ? maxPayload : MAX_SAFE_PAYLOAD_LENGTH;
}

function checkControlPayload(data: Buffer): void {
  if (data.length > MAX_CONTROL_PAYLOAD) throw new RangeError('a control frame payload must not be over 125 bytes');
}

function closePayload(code: number, reason: string): Buffer {
  const reasonLength = Buffer.byteLength(reason, 'utf8');
  // RFC 6455 §5.5: control payloads are at most 125 bytes, so the reason at most 123.
  if (reasonLength > MAX_CLOSE_REASON_BYTES) throw new RangeError('a close reason must not be over 123 bytes of UTF-8');
  const payload = Buffer.allocUnsafe(2 + reasonLength);
  payload.writeUInt16BE(code, 0);
  if (reasonLength > 0) payload.write(reason, 2, 'utf8');
  return payload;
}

function truncateUtf8(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
