// WebSocket: the WHATWG WebSockets standard's `WebSocket` interface for Node (https://websockets.spec.whatwg.org/),
// so browser code runs in Node unchanged, with Node extras (headers, TLS, maxPayload, timeouts, permessage-deflate)
// in a third `options` argument. It wraps the transport `Connection` opened by client.ts.
//
// Standard behaviour implemented: the constructor's URL and protocols checks (SyntaxError), `readyState` and its
// constants, `bufferedAmount` (application bytes not yet handed to the network, still growing after close),
// `binaryType` (`blob` default, `arraybuffer`), `protocol`, `extensions`, `url`, the `on*` event handler attributes
// and EventTarget listeners, `send()` (InvalidStateError while connecting; Blob sends kept in order), `close()` with
// its InvalidAccessError/SyntaxError checks, and the events: `open`, `message`, `error` (when the connection fails,
// also while connecting; an ErrorEvent whose `error` is the HandshakeError/WebSocketError, a Node extra), then
// `close` (CloseEvent with `wasClean`, `code`, `reason`).
//
// What it does not do: ping/pong (not in the standard; the core answers pings, use `connect()` for the ws-like API),
// streams (WebSocketStream), cookies, proxies, redirects.
import { Blob } from 'node:buffer';
import { MAX_CLOSE_REASON_BYTES, type HandshakeError, type WebSocketError } from '../protocol/index.js';
import { checkProtocols, parseWebSocketUrl, startHandshake, type ClientOptions, type PendingHandshake } from './client.js';
import type { Connection } from './connection.js';
import { CloseEvent, ErrorEvent } from './events.js';

export { CloseEvent, ErrorEvent } from './events.js';
export type { CloseEventInit, ErrorEventInit } from './events.js';

/** BinaryType is how binary messages are delivered: `blob` (default, WHATWG) or `arraybuffer`. */
export type BinaryType = 'blob' | 'arraybuffer';

/** WebSocketOptions are the Node extras of `new WebSocket(url, protocols, options)` (see ClientOptions). */
export interface WebSocketOptions extends ClientOptions {
  /** Subprotocols, when passed as the second argument's `protocols` field (undici style). Default none. */
  protocols?: string | string[];
}

/** WebSocketData is what `send()` accepts: text, or bytes as ArrayBuffer, a view of one, or a Blob. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** WebSocketEventMap maps each WebSocket event type to the event class it is dispatched as. */
export interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  error: ErrorEvent;
  close: CloseEvent;
}

/** WebSocketEventHandler is the type of the `on*` attributes: a function of the event, called with `this` the socket. */
export type WebSocketEventHandler<E extends Event = Event> = ((this: WebSocket, event: E) => unknown) | null;

type HandlerName = keyof WebSocketEventMap;
type Handler = WebSocketEventHandler;
interface HandlerSlot {
  fn: Handler;
  listener: (event: Event) => void;
}

const State = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;

// WebIDL [Clamp] unsigned short: clamp to 0..65535, round half to even.
function clampUnsignedShort(value: unknown): number {
  let n = Number(value);
  if (Number.isNaN(n)) return 0;
  n = Math.min(Math.max(n, 0), 65535);
  const floor = Math.floor(n);
  const diff = n - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function byteSize(data: string | Buffer | Blob): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : Buffer.isBuffer(data) ? data.length : data.size;
}

function resumeConnection(connection: Connection): void {
  connection.resume();
}

function toBytes(data: ArrayBufferLike | ArrayBufferView): Buffer {
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * WebSocket is the WHATWG WebSocket client for Node: `new WebSocket(url, protocols?, options?)` connects at once; use
 * `onopen`/`onmessage`/`onerror`/`onclose` or `addEventListener`. Node extras in `options`: `headers`, `origin`, TLS
 * options (`ca`, `cert`, `key`, `rejectUnauthorized`, `servername`, ...), `maxPayload` (default 100 MiB),
 * `handshakeTimeout` (default 10 000 ms), `closeTimeout` (default 30 000 ms), `perMessageDeflate` (default true).
 */
export class WebSocket extends EventTarget {
  /** CONNECTING is readyState 0: the opening handshake is in progress. */
  static readonly CONNECTING = 0;
  /** OPEN is readyState 1: messages can be sent and received. */
  static readonly OPEN = 1;
  /** CLOSING is readyState 2: the closing handshake has started. */
  static readonly CLOSING = 2;
  /** CLOSED is readyState 3: the connection is closed or could not be opened. */
  static readonly CLOSED = 3;

  #url: URL;
  #state: 0 | 1 | 2 | 3 = State.Connecting;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  #connection: Connection | null = null;
  #handshake: PendingHandshake | null = null;
  #failure: WebSocketError | null = null;
  #inMessage = false;
  #handlers = new Map<HandlerName, HandlerSlot>();
  // bufferedAmount: payload bytes handed to the connection and not yet written, in send order (one entry a send).
  #inFlight = 0;
  #inFlightSizes: number[] = [];
  #inFlightHead = 0;
  // Sends waiting behind a Blob being read, so messages keep their order.
  #outbox: (string | Buffer | Blob)[] | null = null;
  #outboxBytes = 0;
  #pendingClose: { code: number | undefined; reason: string | undefined } | null = null;
  // WHATWG: sends after close still "increase the bufferedAmount attribute by the length of data".
  #afterClose = 0;

  /**
   * WebSocket parses `url` (`ws:`, `wss:`; `http:`/`https:` mapped; no fragment), checks `protocols` (tokens, no
   * duplicates) and starts the opening handshake. Throws a SyntaxError DOMException on a bad URL or protocols, a
   * TypeError on headers that cannot be sent and a RangeError on invalid `perMessageDeflate` options. The second
   * argument may also be an options object with `protocols`.
   */
  constructor(url: string | URL, protocols?: string | string[] | WebSocketOptions, options: WebSocketOptions = {}) {
    super();
    if (protocols !== undefined && protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = options.protocols;
    }
    const parsed = parseWebSocketUrl(url);
    if (!(parsed instanceof URL)) throw new DOMException(parsed.error, 'SyntaxError');
    this.#url = parsed;
    // "If protocols is a string, set protocols to a sequence consisting of just that string."
    const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols].map(String);
    // "If any of the values in protocols occur more than once or otherwise fail to match the requirements for
    // elements that comprise the value of `Sec-WebSocket-Protocol` fields ..., then throw a "SyntaxError" DOMException."
    const problem = checkProtocols(list);
    if (problem !== null) throw new DOMException(problem, 'SyntaxError');
    this.#handshake = startHandshake(parsed, list, options, this.#onHandshake);
  }

  /** CONNECTING is readyState 0. */
  get CONNECTING(): 0 {
    return 0;
  }
  /** OPEN is readyState 1. */
  get OPEN(): 1 {
    return 1;
  }
  /** CLOSING is readyState 2. */
  get CLOSING(): 2 {
    return 2;
  }
  /** CLOSED is readyState 3. */
  get CLOSED(): 3 {
    return 3;
  }

  /** url is the serialized URL connected to (after `http:`→`ws:` mapping). */
  get url(): string {
    return this.#url.href;
  }

  /** readyState is CONNECTING (0), OPEN (1), CLOSING (2) once either side started closing, or CLOSED (3). */
  get readyState(): 0 | 1 | 2 | 3 {
    // The transport reads a whole chunk before its events are dispatched, so it may already be CLOSING (a Close
    // frame arrived behind a message) while that message is delivered: the message event still sees OPEN.
    if (this.#state === State.Open && this.#connection !== null && !this.#inMessage) {
      const state = this.#connection.readyState;
      return state === 0 ? State.Open : state;
    }
    return this.#state;
  }

  /**
   * bufferedAmount is the number of bytes of application data queued by `send()` and not yet handed to the network
   * (UTF-8 bytes for text), including data sent after the connection started closing, which is never sent.
   */
  get bufferedAmount(): number {
    return this.#inFlight + this.#outboxBytes + this.#afterClose;
  }

  /** protocol is the subprotocol the server selected, `''` before open or when none. */
  get protocol(): string {
    return this.#protocol;
  }

  /** extensions is the `Sec-WebSocket-Extensions` the server accepted, `''` before open or when none. */
  get extensions(): string {
    return this.#extensions;
  }

  /** binaryType is how binary messages arrive: `'blob'` (default) or `'arraybuffer'`; other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === 'blob' || value === 'arraybuffer') this.#binaryType = value;
  }

  /** onopen is the `open` event handler attribute. */
  get onopen(): WebSocketEventHandler<Event> {
    return this.#getHandler('open');
  }
  set onopen(fn: WebSocketEventHandler<Event>) {
    this.#setHandler('open', fn as Handler);
  }

  /** onmessage is the `message` event handler attribute. */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return this.#getHandler('message');
  }
  set onmessage(fn: WebSocketEventHandler<MessageEvent>) {
    this.#setHandler('message', fn as Handler);
  }

  /** onerror is the `error` event handler attribute. */
  get onerror(): WebSocketEventHandler<ErrorEvent> {
    return this.#getHandler('error');
  }
  set onerror(fn: WebSocketEventHandler<ErrorEvent>) {
    this.#setHandler('error', fn as Handler);
  }

  /** onclose is the `close` event handler attribute. */
  get onclose(): WebSocketEventHandler<CloseEvent> {
    return this.#getHandler('close');
  }
  set onclose(fn: WebSocketEventHandler<CloseEvent>) {
    this.#setHandler('close', fn as Handler);
  }

  /**
   * send transmits a message: a string as text, an ArrayBuffer, a view of one or a Blob as binary. Throws an
   * InvalidStateError DOMException while CONNECTING; after closing started, only `bufferedAmount` grows.
   */
  send(data: WebSocketData): void {
    if (this.#state === State.Connecting) throw new DOMException('WebSocket is still CONNECTING', 'InvalidStateError');
    let item: string | Buffer | Blob;
    if (typeof data === 'string') item = data;
    else if (data instanceof Blob) item = data;
    else if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) item = toBytes(data);
    else item = String(data);
    if (this.readyState !== State.Open) {
      // "If the WebSocket connection is established, and ... the WebSocket closing handshake has started ... increase
      // the bufferedAmount attribute by the length of data".
      this.#afterClose += byteSize(item);
      return;
    }
    if (this.#outbox !== null || item instanceof Blob) {
      this.#enqueue(item);
      return;
    }
    this.#transmit(item);
  }

  /**
   * close starts the closing handshake (or aborts the opening one). `code` must be 1000 or 3000-4999 (else an
   * InvalidAccessError DOMException) and `reason` at most 123 UTF-8 bytes (else a SyntaxError DOMException). A reason
   * without a code is sent with 1000; neither sends a Close frame without a status (the peer sees 1005).
   */
  close(code?: number, reason?: string): void {
    let closeCode: number | undefined;
    if (code !== undefined) {
      closeCode = clampUnsignedShort(code);
      // "If code is present, but is neither an integer equal to 1000 nor an integer in the range 3000 to 4999,
      // inclusive, throw an "InvalidAccessError" DOMException."
      if (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
        throw new DOMException(`invalid close code ${closeCode}`, 'InvalidAccessError');
      }
    }
    let closeReason: string | undefined;
    if (reason !== undefined) {
      // WebIDL USVString: lone surrogates become U+FFFD (the UTF-8 round trip does exactly that).
      const reasonBytes = Buffer.from(String(reason), 'utf8');
      closeReason = reasonBytes.toString('utf8');
      // "If reasonBytes is longer than 123 bytes, then throw a "SyntaxError" DOMException."
      if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
        throw new DOMException(`close reason longer than ${MAX_CLOSE_REASON_BYTES} bytes`, 'SyntaxError');
      }
      if (closeCode === undefined) closeCode = 1000;
    }
    const state = this.readyState;
    if (state === State.Closing || state === State.Closed) return;
    if (state === State.Connecting) {
      // "If the WebSocket connection is not yet established: Fail the WebSocket connection and set this's ready
      // state to CLOSING."
      this.#state = State.Closing;
      this.#handshake?.abort('WebSocket was closed before the connection was established');
      return;
    }
    this.#state = State.Closing;
    if (this.#outbox !== null) {
      // Messages queued behind a Blob being read go out first, then the Close frame (as Chromium orders them).
      this.#pendingClose = { code: closeCode, reason: closeReason };
      return;
    }
    this.#connection?.close(closeCode, closeReason);
  }

  /** addEventListener adds a listener (EventTarget); typed per event for `open`, `message`, `error` and `close`. */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: unknown, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** removeEventListener removes a listener added with the same type, listener and capture flag (EventTarget). */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: unknown, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  #getHandler(type: HandlerName): Handler {
    return this.#handlers.get(type)?.fn ?? null;
  }

  // HTML's event handler attributes: the listener is added on the first set, keeps its place when replaced, and is
  // removed when set to null (or a non-callable).
  #setHandler(type: HandlerName, fn: Handler): void {
    const slot = this.#handlers.get(type);
    if (typeof fn !== 'function') {
      if (slot !== undefined) {
        this.removeEventListener(type, slot.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (slot !== undefined) {
      slot.fn = fn;
      return;
    }
    const created: HandlerSlot = {
      fn,
      listener: (event: Event) => {
        created.fn?.call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }

  #enqueue(item: string | Buffer | Blob): void {
    const size = byteSize(item);
    this.#outboxBytes += size;
    if (this.#outbox !== null) {
      this.#outbox.push(item);
      return;
    }
    this.#outbox = [item];
    void this.#drainOutbox();
  }

  async #drainOutbox(): Promise<void> {
    const outbox = this.#outbox;
    if (outbox === null) return;
    while (outbox.length > 0) {
      const item = outbox[0];
      let bytes: string | Buffer;
      if (item instanceof Blob) {
        try {
          bytes = Buffer.from(await item.arrayBuffer());
        } catch {
          // A Blob that cannot be read fails the connection, as browsers do.
          this.#connection?.close(1011);
          bytes = Buffer.alloc(0);
        }
      } else {
        bytes = item;
      }
      outbox.shift();
      this.#outboxBytes -= byteSize(item);
      if (this.#connection !== null && this.#connection.readyState === State.Open) this.#transmit(bytes);
      else this.#afterClose += byteSize(bytes);
    }
    this.#outbox = null;
    const close = this.#pendingClose;
    if (close !== null) {
      this.#pendingClose = null;
      this.#connection?.close(close.code, close.reason);
    }
  }

  #transmit(data: string | Buffer): void {
    const connection = this.#connection;
    if (connection === null) return;
    const size = byteSize(data);
    this.#inFlight += size;
    this.#inFlightSizes.push(size);
    if (typeof data === 'string') connection.send(data, this.#onWritten);
    else connection.send(data, { binary: true }, this.#onWritten);
  }

  // Called once per send, in order, when its bytes were handed to the socket, or with an error when the connection
  // closed first: that data stays counted, since the standard never lowers bufferedAmount for unsent data.
  #onWritten = (err?: Error): void => {
    const sizes = this.#inFlightSizes;
    const size = sizes[this.#inFlightHead];
    if (size === undefined) return;
    this.#inFlightHead++;
    if (this.#inFlightHead === sizes.length) {
      sizes.length = 0;
      this.#inFlightHead = 0;
    }
    this.#inFlight -= size;
    if (err !== undefined) this.#afterClose += size;
  };

  #onHandshake = (error: HandshakeError | null, result: { connection: Connection; protocol: string; extensions: string } | null): void => {
    this.#handshake = null;
    if (error !== null || result === null) {
      // Fail the WebSocket connection while connecting: error, then close with 1006, in a later task (never inside
      // the close() call that aborted the handshake). The ready state becomes CLOSED as that task runs.
      process.nextTick(() => {
        this.#state = State.Closed;
        this.dispatchEvent(new ErrorEvent('error', { message: error?.message ?? 'WebSocket connection failed', error }));
        this.dispatchEvent(new CloseEvent('close', { wasClean: false, code: 1006, reason: '' }));
      });
      return;
    }
    const { connection } = result;
    if (this.#state !== State.Connecting) {
      connection.terminate();
      return;
    }
    this.#connection = connection;
    this.#protocol = result.protocol;
    this.#extensions = result.extensions;
    this.#state = State.Open;
    connection.on('message', this.#onMessage);
    connection.on('error', this.#onError);
    connection.on('close', this.#onClose);
    // Bytes that came with the 101 would be dispatched on the next tick, before the microtasks of code awaiting
    // `open`; browsers deliver messages in later tasks. Reading resumes one macrotask later.
    connection.pause();
    setImmediate(resumeConnection, connection);
    // "Change the ready state to OPEN ... Fire an event named open at the WebSocket object."
    this.dispatchEvent(new Event('open'));
  };

  #onMessage = (data: Buffer, isBinary: boolean): void => {
    // "If ready state is not OPEN, then return." Messages that arrived before the peer's Close frame are delivered,
    // as Chromium does; once close() was called they are dropped.
    if (this.#state !== State.Open) return;
    let value: string | Blob | ArrayBuffer;
    if (!isBinary) value = data.toString('utf8');
    else if (this.#binaryType === 'blob') value = new Blob([data]);
    else value = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    this.#inMessage = true;
    try {
      this.dispatchEvent(new MessageEvent('message', { data: value, origin: this.#url.origin }));
    } finally {
      this.#inMessage = false;
    }
  };

  #onError = (error: WebSocketError): void => {
    this.#failure ??= error;
  };

  #onClose = (code: number, reason: Buffer): void => {
    const connection = this.#connection;
    this.#state = State.Closed;
    const wasClean = connection?.wasClean ?? false;
    // "If the user agent was required to fail the WebSocket connection, or if the WebSocket connection was closed
    // after being flagged as full, fire an event named error at the WebSocket object."
    if (this.#failure !== null) {
      this.dispatchEvent(new ErrorEvent('error', { message: this.#failure.message, error: this.#failure }));
    }
    this.dispatchEvent(new CloseEvent('close', { wasClean, code, reason: reason.toString('utf8') }));
  };
}
