// The WHATWG event classes a WebSocket dispatches that Node 20 lacks as globals: `CloseEvent` (WebSockets standard
// §"The CloseEvent interface") and `ErrorEvent` (HTML standard, as undici's WebSocket uses it for `error`). `Event`,
// `EventTarget` and `MessageEvent` are Node 20 globals and used as they are.
//
// What this module does not do: replace Node's globals (a later Node's own CloseEvent is left alone).

/** CloseEventInit is the WHATWG dictionary for a {@link CloseEvent}. */
export interface CloseEventInit extends EventInit {
  /** Whether the closing handshake completed (default false). */
  wasClean?: boolean;
  /** The close code (default 0). */
  code?: number;
  /** The close reason (default `''`). */
  reason?: string;
}

/** CloseEvent is the WHATWG event fired when a WebSocket closes, carrying `wasClean`, `code` and `reason`. */
export class CloseEvent extends Event {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  /** CloseEvent makes a close event of `type` (normally `'close'`) from its init dictionary. */
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#wasClean = init.wasClean ?? false;
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? '';
  }

  /** wasClean tells whether the connection closed after a completed closing handshake. */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** code is the WebSocket connection close code (1005 when none was received, 1006 when abnormal). */
  get code(): number {
    return this.#code;
  }

  /** reason is the close reason the peer sent, `''` when none. */
  get reason(): string {
    return this.#reason;
  }
}

/** ErrorEventInit is the HTML dictionary for an {@link ErrorEvent}. */
export interface ErrorEventInit extends EventInit {
  /** A human-readable message (default `''`). */
  message?: string;
  /** The error object (default undefined). Node extra: a `HandshakeError` or `WebSocketError` from hayate. */
  error?: unknown;
  /** Script location fields of the HTML standard (default `''` / 0); unused by WebSockets. */
  filename?: string;
  lineno?: number;
  colno?: number;
}

/**
 * ErrorEvent is the event a WebSocket fires as `error` before `close` when the connection fails. Browsers fire a plain
 * `Event`; this subclass also carries `message` and, as a Node extra, the `error` (e.g. a `HandshakeError` with the
 * HTTP `status`).
 */
export class ErrorEvent extends Event {
  readonly #message: string;
  readonly #error: unknown;
  readonly #filename: string;
  readonly #lineno: number;
  readonly #colno: number;

  /** ErrorEvent makes an error event of `type` (normally `'error'`) from its init dictionary. */
  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#message = init.message ?? '';
    this.#error = init.error;
    this.#filename = init.filename ?? '';
    this.#lineno = init.lineno ?? 0;
    this.#colno = init.colno ?? 0;
  }

  /** message says what failed. */
  get message(): string {
    return this.#message;
  }

  /** error is the underlying error, when there is one. */
  get error(): unknown {
    return this.#error;
  }

  /** filename is always `''` for WebSocket errors. */
  get filename(): string {
    return this.#filename;
  }

  /** lineno is always 0 for WebSocket errors. */
  get lineno(): number {
    return this.#lineno;
  }

  /** colno is always 0 for WebSocket errors. */
  get colno(): number {
    return this.#colno;
  }
}
