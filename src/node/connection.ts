// Connection: one WebSocket over one Node socket, after the opening handshake. The driver of the sans-I/O core
// (`WebSocketProtocol`): it feeds the socket's bytes in, dispatches the core's events as ws-compatible EventEmitter
// events, writes the core's bytes out, and keeps the time (close timeout, idle timeout).
//
// RFC 6455 sections it drives (the rules themselves live in the core): §5.5.2-5.5.3 (pings and pongs surfaced as
// events), §7.1.1 (who closes TCP: `closeExpected()`), §7.1.4-7.1.7 (the close event's code, reason and wasClean),
// §7.1.7 ("Fail the WebSocket Connection": the `error` event, then close).
//
// Hot path: a plain TCP socket is read straight into the process's one shared read buffer (Node's `onread` mode,
// see `#readIntoSharedBuffer`: no buffer allocated per read, no stream in between) → `receive(chunk, borrowed)` →
// dispatch `takeEvents()`; other sockets (TLS) go through one shared 'data' handler. Whatever the
// handlers sent, during a read or outside one, marks the connection dirty, and one shared `setImmediate` per
// event-loop turn writes each dirty connection's bytes in ONE write (cork/uncork over `takeOutgoing()`). Why the turn
// and not the read: libuv reads a busy socket several times per turn (64 KiB each) and Node drains nextTick after
// every read callback, so flushing per read made one write syscall per read; per turn, the echoes of all those reads
// share one writev (64 KiB echo: about 5x fewer writes, and the peer is woken once, not per read). A connection whose
// socket was being read is written as soon as another socket's read starts (libuv reads one socket's data in a row),
// so batching does not hold its answers back until every socket of the turn was read. No closure, timer or promise
// is made per message; the close and idle timeouts sit on the process-wide DeadlineTimer.
//
// What it does not do: the opening handshake (server.ts and the client do it before constructing a Connection), the
// WHATWG event API (websocket.ts wraps this class), compression (negotiated into the core's `extension`).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { InvalidStateError, PreparedMessage, WebSocketError, sharedReadBuffer, type ProtocolError, type WebSocketProtocol } from '../protocol/index.js';
import { sharedDeadlines, type Deadline } from './deadline-timer.js';
import { LARGE_MESSAGE_BYTES, keepFreedMemoryResident } from './freed-memory.js';
import { MessageStream, type MessageSink, type MessageStreamOptions } from './message-stream.js';

/** ReadyState lists a Connection's states with WHATWG/ws numbering. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

/** DEFAULT_CLOSE_TIMEOUT is how long (ms) a Connection waits for the peer to finish closing before destroying TCP. */
export const DEFAULT_CLOSE_TIMEOUT = 30_000;

/** ConnectionOptions configures a {@link Connection}. */
export interface ConnectionOptions {
  /** The core for this connection, already made with the negotiated role, extension and maxPayload. */
  protocol: WebSocketProtocol;
  /** Bytes that arrived after the handshake in the same read (Node's upgrade `head`); default none. */
  head?: Buffer;
  /**
   * Read a plain TCP socket into the process's one shared read buffer (Node's `onread` mode) instead of a new
   * buffer per read; default true. False keeps the socket's 'data' events (for a socket someone else also reads).
   */
  sharedReadBuffer?: boolean;
  /** The negotiated subprotocol; default `''`. */
  subprotocol?: string;
  /** The negotiated `Sec-WebSocket-Extensions` value; default `''`. */
  extensions?: string;
  /**
   * Milliseconds to wait, once a Close frame was sent (or TCP end is expected), for the peer to finish the closing
   * handshake and close TCP before the socket is destroyed; default 30 000 (as ws).
   */
  closeTimeout?: number;
  /**
   * Milliseconds without any received byte after which the connection is closed with 1001 ("idle timeout"); default 0
   * (off). Checked lazily: one deadline per idle period, not per message.
   */
  idleTimeout?: number;
  /**
   * Bytes waiting in the socket above which the connection stops reading from the peer until they are flushed, so a
   * peer that sends (e.g. pings or messages an app echoes) without reading cannot make us buffer without bound;
   * default 1 MiB (`DEFAULT_READ_PAUSE_BYTES`), 0 turns it off. Outgoing bytes the app sends on its own are its
   * business: `bufferedAmount` and `drain` are the tools.
   */
  readPauseBytes?: number;
  /**
   * A set that holds this connection until it closes (a server's `clients`): the connection deletes itself from it
   * just before its close event, so the owner needs no close listener or map of its own per connection.
   */
  tracker?: Set<Connection>;
}

/** DEFAULT_READ_PAUSE_BYTES is the default `readPauseBytes`: 1 MiB. */
export const DEFAULT_READ_PAUSE_BYTES = 1024 * 1024;

/** SendOptions are ws's per-send options. */
export interface SendOptions {
  /** Send as a binary message; default: `false` for strings, `true` for bytes. */
  binary?: boolean;
  /** Whether this is the last fragment of the message; default `true`. `false` streams a fragmented message. */
  fin?: boolean;
}

/** SendCallback is called once the bytes of a send were written to the socket, or with the error that prevented it. */
export type SendCallback = (err?: Error) => void;

/** ConnectionData is what `send()` accepts. */
export type ConnectionData = string | Buffer | ArrayBuffer | ArrayBufferView | PreparedMessage;

const kConnection = Symbol('hayate.connection');
type DrivenSocket = Socket & { [kConnection]?: Connection };

/**
 * Node's own keys of a socket's `onread` mode (`net.Socket({ onread: { buffer, callback } })`): every read lands in
 * one buffer and goes to the callback, with no per-read allocation and no stream in between. Node offers that mode
 * only to sockets it creates for the caller, not to the ones a server accepts, so Connection turns it on for an
 * accepted socket the way Node's own constructor does (the same keys, then `useUserBuffer` on the handle). Found by
 * name on a socket; null on a Node that has none of them (then sockets are read through 'data' as before).
 */
let onreadKeys: { buffer: symbol; callback: symbol } | null | undefined;

function findOnreadKeys(socket: Socket): { buffer: symbol; callback: symbol } | null {
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((k) => k.description === 'kBuffer');
  const callback = symbols.find((k) => k.description === 'kBufferCb');
  return buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
}

type StreamHandle = { useUserBuffer?: (buffer: Uint8Array) => void };

/**
 * ConnectionEvents is a Connection's listener table (EventEmitter's `_events`), with a slot for each event nearly
 * every user listens to (others are added as they come). EventEmitter's own table is a null-prototype object
 * literal, which V8 keeps in dictionary mode: about 180 bytes per idle connection, against about 50 for this
 * fast-mode object (measured with heap snapshots). Node's streams pre-shape theirs the same way; the prototype has no
 * properties, so no event name can hit an inherited one.
 */
const ConnectionEvents = function (this: Record<string, unknown>): void {
  this.message = undefined;
  this.close = undefined;
  this.error = undefined;
} as unknown as new () => object;
ConnectionEvents.prototype = Object.create(null) as object;

// Bits of Connection's packed state: reading (dispatching a read), queued for the shared flush, streaming a fragmented
// send, TCP end sent, socket closed, terminated by us, cut by the close timeout, waiting to emit drain, bytes arrived
// since the heartbeat last looked, reading paused by the app, reading paused because too much waits to be written,
// dispatching the events of a read that precede the peer's Close (reported OPEN, as ws), a message stream is open,
// the close timeout was started.
const Flag = {
  inRead: 1,
  queued: 2,
  fragmenting: 4,
  ended: 8,
  closed: 16,
  terminated: 32,
  timedOut: 64,
  awaitingDrain: 128,
  alive: 256,
  userPaused: 512,
  writePaused: 1024,
  dispatchOpen: 2048,
  streaming: 4096,
  closeTimed: 8192,
} as const;

const EMPTY = Buffer.alloc(0);

function toBuffer(data: string | Buffer | ArrayBuffer | ArrayBufferView | number | undefined): Buffer {
  if (data === undefined) return EMPTY;
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data);
  if (typeof data === 'number') return Buffer.from(String(data));
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw new TypeError('data must be a string, Buffer, ArrayBuffer or ArrayBufferView');
}

/** ConnectionSettings are the options every connection of one server shares, held once, not per connection. */
interface ConnectionSettings {
  readonly closeTimeout: number;
  readonly idleTimeout: number;
  readonly readPauseBytes: number;
  readonly tracker: Set<Connection> | null;
}

let lastSettings: ConnectionSettings | null = null;

// A server makes all its connections with the same options, so the last settings are almost always the right ones.
function settingsFor(options: ConnectionOptions): ConnectionSettings {
  const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
  const idleTimeout = options.idleTimeout ?? 0;
  const readPauseBytes = options.readPauseBytes ?? DEFAULT_READ_PAUSE_BYTES;
  const tracker = options.tracker ?? null;
  const last = lastSettings;
  if (last !== null && last.closeTimeout === closeTimeout && last.idleTimeout === idleTimeout && last.readPauseBytes === readPauseBytes && last.tracker === tracker) {
    return last;
  }
  return (lastSettings = { closeTimeout, idleTimeout, readPauseBytes, tracker });
}

/** RareState is what only some connections need (idle timeout, closing, message streams), made on first use. */
class RareState {
  /** The negotiated subprotocol and extensions, when not `''` (most connections have neither). */
  protocol = '';
  extensions = '';
  lastActivity = 0;
  idleDeadline: Deadline | null = null;
  closeDeadline: Deadline | null = null;
  /** Sends made while a message stream is open, sent in order once it ends. */
  held: [ConnectionData, SendOptions | undefined, SendCallback | undefined][] | null = null;
  streamBinary = true;
  sink: MessageSink | null = null;
  closeCode = 1006;
  closeReason: Buffer = EMPTY;
  wasClean = false;
}

/**
 * WriteLog pairs each socket write of a connection with the send callbacks it carries, made on the first write so
 * idle connections do not carry it. One `onWritten` function per connection, not per write: Node calls write
 * callbacks in order, so the batches are a FIFO.
 */
class WriteLog {
  readonly batches: (SendCallback[] | null)[] = [];
  head = 0;
  readonly onWritten: (err?: Error | null) => void;

  /** pending is the number of writes whose callback has not run yet. */
  get pending(): number {
    return this.batches.length - this.head;
  }

  constructor(done: (cbs: SendCallback[] | null | undefined, err?: Error | null) => void) {
    this.onWritten = (err?: Error | null): void => {
      const batches = this.batches;
      const cbs = batches[this.head];
      batches[this.head++] = null;
      if (this.head === batches.length) {
        batches.length = 0;
        this.head = 0;
      }
      done(cbs, err);
    };
  }
}

/** Writes up to this size go without a write callback when nothing waits for one (see #flush). */
const UNTRACKED_WRITE_MAX_BYTES = 16 * 1024;

/** writeAll writes `out` in order as one write (corked when several), `cb` after the last. */
function writeAll(socket: Socket, out: Buffer[], cb: ((err?: Error | null) => void) | undefined): void {
  if (out.length === 1) {
    socket.write(out[0], cb);
    return;
  }
  socket.cork();
  const last = out.length - 1;
  for (let i = 0; i < last; i++) socket.write(out[i]);
  socket.write(out[last], cb);
  socket.uncork();
}

// The shared flush queue: connections with bytes queued, flushed once per event-loop turn (setImmediate).
let dirty: Connection[] = [];
// The connection whose socket delivered the last read of this turn (see #onSocketData).
let lastReader: Connection | null = null;
let flushScheduled = false;

/**
 * Connection is a ws-compatible WebSocket over one socket. Events: `message(data: Buffer, isBinary)`, `ping(data)`,
 * `pong(data)`, `error(err: WebSocketError)` (only emitted when someone listens, so a bad peer cannot crash a process
 * that did not subscribe), `drain`, and `close(code, reason: Buffer)` exactly once.
 */
export class Connection extends EventEmitter {
  /** CONNECTING is readyState 0 (never seen on a Connection: the handshake is done before one is made). */
  static readonly CONNECTING = ReadyState.CONNECTING;
  /** OPEN is readyState 1. */
  static readonly OPEN = ReadyState.OPEN;
  /** CLOSING is readyState 2. */
  static readonly CLOSING = ReadyState.CLOSING;
  /** CLOSED is readyState 3. */
  static readonly CLOSED = ReadyState.CLOSED;
  /** CONNECTING is readyState 0 (on the prototype, not per instance). */
  get CONNECTING(): 0 {
    return ReadyState.CONNECTING;
  }
  /** OPEN is readyState 1. */
  get OPEN(): 1 {
    return ReadyState.OPEN;
  }
  /** CLOSING is readyState 2. */
  get CLOSING(): 2 {
    return ReadyState.CLOSING;
  }
  /** CLOSED is readyState 3. */
  get CLOSED(): 3 {
    return ReadyState.CLOSED;
  }

  /** protocol is the negotiated subprotocol, `''` when none. */
  get protocol(): string {
    return this.#rare === null ? '' : this.#rare.protocol;
  }

  /** extensions is the negotiated `Sec-WebSocket-Extensions` value, `''` when none. */
  get extensions(): string {
    return this.#rare === null ? '' : this.#rare.extensions;
  }

  // Memory: at 10,000 mostly idle connections every field counts (8 bytes each), so what a connection of a server
  // shares with its siblings is one `ConnectionSettings` object, and what only some connections ever need (idle
  // timeout, closing, streams, write callbacks) lives in objects made on first use.
  #socket: DrivenSocket;
  #core: WebSocketProtocol;
  #settings: ConnectionSettings;
  #callbacks: SendCallback[] | null = null;
  #writes: WriteLog | null = null;
  #rare: RareState | null = null;
  // The connection's booleans, packed in one small integer (bits of Flag): an idle connection is mostly its fields.
  #flags: number = Flag.alive;
  // #has tells whether any of the given flag bits is set.
  #has(flag: number): boolean {
    return (this.#flags & flag) !== 0;
  }
  #set(flag: number, on: boolean): void {
    this.#flags = on ? this.#flags | flag : this.#flags & ~flag;
  }

  /** Connection takes over `socket` (already upgraded) and starts reading from it. */
  constructor(socket: Socket, options: ConnectionOptions) {
    super();
    (this as unknown as { _events: object })._events = new ConnectionEvents();
    this.#socket = socket as DrivenSocket;
    this.#core = options.protocol;
    const protocol = options.subprotocol ?? '';
    const extensions = options.extensions ?? '';
    if (protocol !== '' || extensions !== '') {
      const rare = this.#more();
      rare.protocol = protocol;
      rare.extensions = extensions;
    }
    this.#settings = settingsFor(options);

    const s = this.#socket;
    s[kConnection] = this;
    if (typeof s.setTimeout === 'function') s.setTimeout(0);
    if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
    // The head is read through the normal path, after the caller had a chance to add listeners.
    if (options.head !== undefined && options.head.length > 0) s.unshift(options.head);
    s.on('data', Connection.#onSocketData);
    s.on('end', Connection.#onSocketEnd);
    s.on('close', Connection.#onSocketClose);
    s.on('error', Connection.#onSocketError);
    // A socket someone paused (readableFlowing false) would not start flowing by itself on a 'data' listener.
    if (s.readableFlowing === false) s.resume();
    if (options.sharedReadBuffer !== false) Connection.#readIntoSharedBuffer(s);
    const idleTimeout = this.#settings.idleTimeout;
    if (idleTimeout > 0) {
      const rare = this.#more();
      rare.lastActivity = performance.now();
      rare.idleDeadline = sharedDeadlines.schedule(idleTimeout, Connection.#onIdleDeadline, this);
    }
    if (s.destroyed) process.nextTick(Connection.#onSocketCloseFor, this);
  }

  /** readyState is OPEN until a Close frame is sent or received (or TCP ends), CLOSING until TCP closes, then CLOSED. */
  get readyState(): 0 | 1 | 2 | 3 {
    if (this.#has(Flag.closed)) return ReadyState.CLOSED;
    if (this.#has(Flag.terminated | Flag.ended)) return ReadyState.CLOSING;
    // The core parsed the whole read, Close included; the messages that came before the Close still see OPEN, as a
    // ws user's handler does (ws parses and emits one frame at a time).
    if (this.#has(Flag.dispatchOpen)) return ReadyState.OPEN;
    return this.#core.readyState === 1 ? ReadyState.OPEN : ReadyState.CLOSING;
  }

  /** bufferedAmount is the bytes queued in the core plus the bytes the socket has not flushed yet. */
  get bufferedAmount(): number {
    return this.#core.outgoingBytes + (this.#socket.writableLength ?? 0);
  }

  /**
   * remoteAddress is the peer's IP address. Read from the socket on first use (Node then keeps it), so idle
   * connections that nobody asks about do not carry it; undefined when first asked after the socket was destroyed.
   */
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  /** wasClean tells, once closed, whether the closing handshake completed (RFC 6455 §7.1.4, the WHATWG `wasClean`). */
  get wasClean(): boolean {
    return this.#rare !== null && this.#rare.wasClean;
  }

  /** closeCode is the close event's code (1006 until a Close frame is received). */
  get closeCode(): number {
    return this.#rare === null ? 1006 : this.#rare.closeCode;
  }

  /** isPaused tells whether reading was paused with `pause()`. */
  get isPaused(): boolean {
    return this.#has(Flag.userPaused);
  }

  /**
   * send queues one message (or, with `fin: false`, one fragment of a streamed message) and writes it within this
   * event-loop turn.
   * Strings go as text unless `binary: true`; bytes go as binary unless `binary: false`; a PreparedMessage (from
   * `prepare()`) is written as framed. `cb(err?)` runs once the bytes were handed to the socket. When the connection is
   * not open the data is dropped and `cb` gets an error (as ws). While a `createMessageStream()` stream is open, sends
   * are held (not counted in `bufferedAmount`) and go out in order after its final frame.
   */
  send(data: ConnectionData, options?: SendOptions | SendCallback, cb?: SendCallback): void {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    if (!this.#canSend()) {
      if (cb !== undefined) process.nextTick(cb, this.#notOpenError());
      return;
    }
    if (this.#has(Flag.streaming)) {
      (this.#more().held ??= []).push([data, options, cb]);
      return;
    }
    const core = this.#core;
    if (typeof data === 'string') {
      const binary = options?.binary === true;
      this.#sendBytes(binary ? Buffer.from(data) : data, binary, options?.fin);
    } else if (data instanceof PreparedMessage) {
      core.sendFrame(data);
    } else {
      this.#sendBytes(toBuffer(data), options?.binary !== false, options?.fin);
    }
    if (cb !== undefined) (this.#callbacks ??= []).push(cb);
    this.#schedule();
  }

  /**
   * createMessageStream opens a Writable that sends one message (binary unless `binary: false`) as fragments, one frame
   * per written chunk, and ends it with a FIN frame on `end()`. Backpressure: a chunk's callback runs once the socket
   * took its frame, so `pipeline(readable, stream)` holds at most about the stream's highWaterMark (64 KiB) plus one
   * chunk, however long the message. It errors with InvalidStateError if the connection closes first; destroying it
   * before `end()` closes the connection with 1011. Other sends wait until the stream ends. Throws InvalidStateError
   * when the connection is not open or a message (stream or `fin: false` sends) is already in progress.
   */
  createMessageStream(options: MessageStreamOptions = {}): MessageStream {
    if (!this.#canSend()) throw this.#notOpenError();
    if (this.#has(Flag.streaming | Flag.fragmenting)) {
      throw new InvalidStateError('a fragmented message is in progress; finish it before opening a message stream');
    }
    this.#set(Flag.streaming, true);
    const rare = this.#more();
    rare.streamBinary = options.binary !== false;
    return new MessageStream((rare.sink ??= this.#makeSink()), options);
  }

  #more(): RareState {
    return (this.#rare ??= new RareState());
  }

  #makeSink(): MessageSink {
    return {
      events: this,
      fragment: (data, fin, cb) => this.#streamFragment(data, fin, cb),
      release: (aborted) => this.#endStream(aborted),
    };
  }

  #streamFragment(data: Buffer, fin: boolean, cb: SendCallback): void {
    if (!this.#canSend()) {
      process.nextTick(cb, this.#notOpenError());
      return;
    }
    this.#core.sendFragment(this.#more().streamBinary ? 'binary' : 'text', data, fin);
    (this.#callbacks ??= []).push(cb);
    this.#schedule();
  }

  #endStream(aborted: boolean): void {
    if (!this.#has(Flag.streaming)) return;
    this.#set(Flag.streaming, false);
    // A started message cannot be withdrawn (RFC 6455 has no way to cancel one): close rather than send a truncated one.
    if (aborted && this.readyState === ReadyState.OPEN) this.close(1011, 'message stream aborted');
    const rare = this.#more();
    const held = rare.held;
    rare.held = null;
    if (held !== null) for (const [data, options, cb] of held) this.send(data, options, cb);
  }

  /** ping sends a Ping frame with up to 125 bytes of application data (RFC 6455 §5.5.2); ignored when not open. */
  ping(data?: string | Buffer | ArrayBuffer | ArrayBufferView | number, _mask?: boolean, cb?: SendCallback): void {
    this.#sendControl(true, data, cb);
  }

  /** pong sends an unsolicited Pong frame (RFC 6455 §5.5.3: a unidirectional heartbeat); ignored when not open. */
  pong(data?: string | Buffer | ArrayBuffer | ArrayBufferView | number, _mask?: boolean, cb?: SendCallback): void {
    this.#sendControl(false, data, cb);
  }

  #sendControl(ping: boolean, data: string | Buffer | ArrayBuffer | ArrayBufferView | number | undefined, cb: SendCallback | undefined): void {
    if (!this.#canSend()) {
      if (cb !== undefined) process.nextTick(cb, this.#notOpenError());
      return;
    }
    if (ping) this.#core.ping(toBuffer(data));
    else this.#core.pong(toBuffer(data));
    if (cb !== undefined) (this.#callbacks ??= []).push(cb);
    this.#schedule();
  }

  /**
   * close starts the closing handshake with `code` (default: none, the peer sees 1005) and `reason` (at most 123 UTF-8
   * bytes). Throws a TypeError/RangeError-like error from the core on an invalid code or reason (API misuse, as ws).
   * The socket is destroyed if the peer does not finish within `closeTimeout`.
   */
  close(code?: number, reason?: string | Buffer): void {
    if (this.#has(Flag.closed | Flag.terminated)) return;
    const core = this.#core;
    if (core.closeSent !== null) {
      if (core.closeExpected()) this.#endSocket();
      return;
    }
    if (core.readyState === 3) return;
    core.close(code, reason === undefined ? undefined : typeof reason === 'string' ? reason : reason.toString());
    this.#schedule();
  }

  /** terminate destroys the socket at once, without a closing handshake; the close event reports 1006. */
  terminate(): void {
    if (this.#has(Flag.closed)) return;
    this.#set(Flag.terminated, true);
    this.#socket.destroy();
  }

  /** pause stops reading from the socket (backpressure on a slow consumer). */
  pause(): void {
    this.#set(Flag.userPaused, true);
    this.#socket.pause();
  }

  /** resume restarts reading after `pause()`. */
  resume(): void {
    this.#set(Flag.userPaused, false);
    if (!this.#has(Flag.writePaused)) this.#socket.resume();
  }

  /**
   * takeAlive tells whether any byte arrived since the previous call, and resets that mark. The server's heartbeat
   * calls it once a round: a connection that was not alive since the last round is terminated.
   */
  takeAlive(): boolean {
    const alive = this.#has(Flag.alive);
    this.#set(Flag.alive, false);
    return alive;
  }

  // Whether sends go out: OPEN, and not merely reported OPEN while dispatching the messages before a received Close
  // (the core answered that Close already: RFC 6455 §5.5.1, no data frames after a Close).
  #canSend(): boolean {
    return this.readyState === ReadyState.OPEN && this.#core.readyState === 1;
  }

  #notOpenError(): Error {
    return new InvalidStateError(`WebSocket is not open: readyState ${this.readyState}`);
  }

  #sendBytes(data: string | Buffer, binary: boolean, fin: boolean | undefined): void {
    const core = this.#core;
    if (this.#has(Flag.fragmenting) || fin === false) {
      core.sendFragment(binary ? 'binary' : 'text', typeof data === 'string' ? Buffer.from(data) : data, fin !== false);
      this.#set(Flag.fragmenting, fin === false);
    } else if (binary) {
      core.sendBinary(data as Buffer);
    } else {
      core.sendText(data);
    }
  }

  #schedule(): void {
    if (this.#has(Flag.inRead | Flag.queued)) return;
    this.#set(Flag.queued, true);
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(Connection.#flushDirty);
    }
  }

  static #flushDirty = (): void => {
    flushScheduled = false;
    lastReader = null;
    const list = dirty;
    dirty = [];
    for (let i = 0; i < list.length; i++) {
      const conn = list[i];
      conn.#set(Flag.queued, false);
      conn.#afterStep();
    }
  };

  // Writes what the core queued, then applies the closing rules. Called after every read and every tick with sends.
  #afterStep(): void {
    this.#flush();
    const core = this.#core;
    if ((core.closeSent !== null || core.readyState !== 1) && !this.#has(Flag.closed | Flag.closeTimed)) {
      this.#set(Flag.closeTimed, true);
      this.#more().closeDeadline = sharedDeadlines.schedule(this.#settings.closeTimeout, Connection.#onCloseDeadline, this);
    }
    // RFC 6455 §7.1.1: "the underlying TCP connection, in most normal cases, SHOULD be closed first by the server";
    // the core says when (server after the exchange, anyone after a failure).
    if (!this.#has(Flag.ended) && core.closeExpected()) this.#endSocket();
  }

  #flush(): void {
    const core = this.#core;
    const bytes = core.outgoingBytes;
    if (bytes === 0 && this.#callbacks === null) return;
    const out = core.takeOutgoing();
    const cbs = this.#callbacks;
    this.#callbacks = null;
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) {
      if (cbs !== null) process.nextTick(Connection.#runCallbacks, cbs, this.#notOpenError());
      return;
    }
    if (out.length === 0) {
      if (cbs !== null) process.nextTick(Connection.#runCallbacks, cbs, undefined);
      return;
    }
    // A write callback costs Node a process.nextTick per write (its afterWriteTick), which a broadcast to 10,000
    // connections pays 10,000 times. It is needed only for send callbacks, or to learn when bytes that did not go out
    // at once have gone (drain, read backpressure). So a small write (one the kernel takes at once on a healthy socket)
    // with no send callbacks, while no earlier write is awaited, goes without one, and only if it did not complete is
    // a zero-length write with the callback queued behind it (Node completes writes in order). Large writes, which
    // usually do not complete at once, carry the callback themselves rather than pay for that extra write.
    let writes = this.#writes;
    if (cbs === null && bytes <= UNTRACKED_WRITE_MAX_BYTES && (writes === null || writes.pending === 0)) {
      writeAll(socket, out, undefined);
      if (socket.writableLength === 0) return;
      writes ??= this.#writes = new WriteLog((done, err) => this.#written(done, err));
      writes.batches.push(null);
      socket.write(EMPTY, writes.onWritten);
    } else {
      writes ??= this.#writes = new WriteLog((done, err) => this.#written(done, err));
      writes.batches.push(cbs);
      writeAll(socket, out, writes.onWritten);
    }
    const waiting = socket.writableLength;
    if (waiting > 0) {
      this.#set(Flag.awaitingDrain, true);
      // Read backpressure: stop taking input that would make more output until the socket catches up (#written).
      const pause = this.#settings.readPauseBytes;
      if (waiting > pause && pause > 0 && !this.#has(Flag.writePaused)) {
        this.#set(Flag.writePaused, true);
        socket.pause();
      }
    }
  }

  static #runCallbacks(cbs: SendCallback[], err: Error | undefined): void {
    for (let i = 0; i < cbs.length; i++) cbs[i](err);
  }

  // Runs when the socket took one write of #flush (WriteLog.onWritten); `cbs` are that write's callbacks.
  #written(cbs: SendCallback[] | null | undefined, err?: Error | null): void {
    if (cbs !== null && cbs !== undefined) Connection.#runCallbacks(cbs, err ?? undefined);
    if (this.#has(Flag.writePaused) && this.#socket.writableLength <= this.#settings.readPauseBytes >>> 1) {
      this.#set(Flag.writePaused, false);
      if (!this.#has(Flag.userPaused)) this.#socket.resume();
    }
    if (this.#has(Flag.awaitingDrain) && !this.#has(Flag.closed) && this.bufferedAmount === 0) {
      this.#set(Flag.awaitingDrain, false);
      this.emit('drain');
    }
  }

  #endSocket(): void {
    if (this.#has(Flag.ended)) return;
    this.#set(Flag.ended, true);
    this.#socket.end();
  }

  // `wasOpen`: the core was open before this read. When the read also closed it (a Close or a failure came in), the
  // events before the first close/error event are dispatched with readyState OPEN.
  #dispatch(wasOpen: boolean): void {
    const events = this.#core.takeEvents();
    let open = wasOpen && this.#core.readyState !== 1;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (open && (event.type === 'close' || event.type === 'error')) open = false;
      this.#set(Flag.dispatchOpen, open);
      switch (event.type) {
        case 'message':
          if (event.data.length >= LARGE_MESSAGE_BYTES) keepFreedMemoryResident();
          this.emit('message', event.data, event.binary);
          break;
        case 'ping':
          this.emit('ping', event.data);
          break;
        case 'pong':
          this.emit('pong', event.data);
          break;
        case 'close':
          // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame, the
          // endpoint MUST send a Close frame in response." The core does; this covers a core that left it to us.
          if (this.#core.closeSent === null && this.#core.failure === null) this.#core.close();
          break;
        case 'error':
          this.#emitError(event.error);
          break;
      }
    }
    this.#set(Flag.dispatchOpen, false);
  }

  #emitError(error: ProtocolError): void {
    if (this.listenerCount('error') === 0) return;
    this.emit('error', new WebSocketError(error.message, error.code, { cause: error }));
  }

  /**
   * #readIntoSharedBuffer puts a plain TCP socket in `onread` mode over the process's one read buffer (see
   * `onreadKeys`). What is already in the socket's stream (the upgrade's head, or bytes that came before) still
   * flows through 'data' first: the stream is flowing and drains on the next tick, before libuv reads again.
   * TLS sockets keep the 'data' path: their bytes are decrypted by the TLS layer, not read into a buffer of ours.
   */
  static #readIntoSharedBuffer(s: DrivenSocket): void {
    const handle = (s as unknown as { _handle: StreamHandle | null })._handle;
    if (handle === null || typeof handle.useUserBuffer !== 'function' || (s as { encrypted?: boolean }).encrypted === true) return;
    if (onreadKeys === undefined) onreadKeys = findOnreadKeys(s);
    if (onreadKeys === null) return;
    const keyed = s as unknown as Record<symbol, unknown>;
    if (keyed[onreadKeys.buffer] !== null) return; // already in onread mode: someone else's
    const buffer = sharedReadBuffer();
    keyed[onreadKeys.buffer] = buffer;
    keyed[onreadKeys.callback] = Connection.#onSharedRead;
    handle.useUserBuffer(buffer);
  }

  static #onSharedRead = function (this: DrivenSocket, nread: number, buffer: Buffer): void {
    Connection.#onBytes(this, buffer.subarray(0, nread), true);
  };

  static #onSocketData = function (this: DrivenSocket, chunk: Buffer): void {
    Connection.#onBytes(this, chunk, false);
  };

  static #onBytes(socket: DrivenSocket, chunk: Buffer, borrowed: boolean): void {
    const conn = socket[kConnection];
    if (conn === undefined) return;
    const previous = lastReader;
    if (previous !== conn) {
      // Another socket's read starts: libuv reads one socket up to 32 times in a row, so the previous socket's reads
      // of this turn are over and its answers go now instead of waiting for the end of the turn.
      lastReader = conn;
      if (previous !== null) previous.#afterStep();
    }
    conn.#set(Flag.alive, true);
    if (conn.#settings.idleTimeout > 0) conn.#more().lastActivity = performance.now();
    conn.#set(Flag.inRead, true);
    try {
      const wasOpen = conn.#core.readyState === 1;
      conn.#core.receive(chunk, borrowed);
      conn.#dispatch(wasOpen);
    } finally {
      conn.#set(Flag.inRead | Flag.dispatchOpen, false);
      // Batched to the end of the turn, unless the output could outgrow readPauseBytes: then written now, so that
      // the read backpressure below (#flush) sees it before the next read of this turn.
      const pause = conn.#settings.readPauseBytes;
      if (pause > 0 && conn.#core.outgoingBytes + conn.#socket.writableLength > pause) conn.#afterStep();
      else conn.#schedule();
    }
  }

  static #onSocketEnd = function (this: DrivenSocket): void {
    const conn = this[kConnection];
    if (conn === undefined) return;
    conn.#set(Flag.inRead, true);
    try {
      conn.#core.receiveEof();
      conn.#dispatch(false);
    } finally {
      conn.#set(Flag.inRead, false);
      conn.#afterStep();
      // The peer will send nothing more; finish writing what is queued and close our side too.
      conn.#endSocket();
    }
  };

  static #onSocketError = function (this: DrivenSocket): void {
    // Socket errors (ECONNRESET, EPIPE, ...) end the connection; the close event reports 1006. Never rethrown.
    this.destroy();
  };

  static #onSocketClose = function (this: DrivenSocket): void {
    const conn = this[kConnection];
    if (conn !== undefined) Connection.#onSocketCloseFor(conn);
  };

  static #onSocketCloseFor(conn: Connection): void {
    if (conn.#has(Flag.closed)) return;
    conn.#set(Flag.closed, true);
    conn.#settings.tracker?.delete(conn);
    const rare = conn.#more();
    sharedDeadlines.cancel(rare.closeDeadline);
    sharedDeadlines.cancel(rare.idleDeadline);
    rare.closeDeadline = null;
    rare.idleDeadline = null;
    const core = conn.#core;
    // Anything still buffered from the last reads (e.g. a Close frame in the final chunk) was already dispatched.
    const received = core.closeReceived;
    // RFC 6455 §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was received by the
    // endpoint ..., _The WebSocket Connection Close Code_ is considered to be 1006."
    rare.closeCode = received !== null ? received.code : 1006;
    rare.closeReason = received !== null && received.reason.length > 0 ? Buffer.from(received.reason) : EMPTY;
    // §7.1.4 / WHATWG: clean when the closing handshake completed and TCP closed without us cutting it.
    rare.wasClean =
      received !== null && core.closeSent !== null && core.failure === null && !conn.#has(Flag.terminated | Flag.timedOut);
    const cbs = conn.#callbacks;
    conn.#callbacks = null;
    if (cbs !== null) Connection.#runCallbacks(cbs, conn.#notOpenError());
    conn.emit('close', rare.closeCode, rare.closeReason);
  }

  static #onCloseDeadline(conn: Connection): void {
    conn.#more().closeDeadline = null;
    if (conn.#has(Flag.closed)) return;
    conn.#set(Flag.timedOut, true);
    conn.#socket.destroy();
  }

  static #onIdleDeadline(conn: Connection): void {
    const rare = conn.#more();
    rare.idleDeadline = null;
    if (conn.#has(Flag.closed) || conn.readyState !== ReadyState.OPEN) return;
    const idleTimeout = conn.#settings.idleTimeout;
    const idle = performance.now() - rare.lastActivity;
    if (idle >= idleTimeout) {
      conn.close(1001, 'idle timeout');
    } else {
      rare.idleDeadline = sharedDeadlines.schedule(idleTimeout - idle, Connection.#onIdleDeadline, conn);
    }
  }
}
