/**
 * Errors of the protocol layer.
 *
 * Two kinds live here:
 * - `ProtocolError`: a *value* describing why the sans-I/O core failed a connection (RFC 6455 §7.1.7 "Fail the
 *   WebSocket Connection"). The core records it and reports it in an `error` event; it never throws it.
 * - The few public errors users see: `WebSocketError` (the base) and `ConnectionClosedError`, `HandshakeError`,
 *   `InvalidStateError`, `MessageTooBigError`. The core throws only on API misuse (see protocol.ts); the drivers
 *   throw or emit the others.
 *
 * This module does not decide close codes for transport errors (the driver does) and has no I/O.
 */

/**
 * ProtocolErrorCode lists the stable `code` strings of `ProtocolError`, with the close code each one sends.
 * Other modules (the deflate codec) may add codes; these are the ones the core itself produces.
 */
export const ProtocolErrorCode = {
  /** RFC 6455 §5.2: an opcode that is not defined (1002). */
  InvalidOpcode: 'WS_INVALID_OPCODE',
  /** RFC 6455 §5.2: RSV1 set without a negotiated extension granting it, or on a control or continuation frame (1002). */
  UnexpectedRsv1: 'WS_UNEXPECTED_RSV_1',
  /** RFC 6455 §5.2: RSV2 set; no extension of ours grants it (1002). */
  UnexpectedRsv2: 'WS_UNEXPECTED_RSV_2',
  /** RFC 6455 §5.2: RSV3 set; no extension of ours grants it (1002). */
  UnexpectedRsv3: 'WS_UNEXPECTED_RSV_3',
  /** RFC 6455 §5.1: a server received an unmasked frame (1002). */
  ExpectedMask: 'WS_EXPECTED_MASK',
  /** RFC 6455 §5.1: a client received a masked frame (1002). */
  UnexpectedMask: 'WS_UNEXPECTED_MASK',
  /** RFC 6455 §5.5: a control frame with FIN = 0 (1002). */
  FragmentedControlFrame: 'WS_FRAGMENTED_CONTROL_FRAME',
  /** RFC 6455 §5.5: a control frame payload longer than 125 bytes (1002). */
  ControlFrameTooLong: 'WS_CONTROL_FRAME_TOO_LONG',
  /** RFC 6455 §5.4: a continuation frame with no fragmented message in progress (1002). */
  UnexpectedContinuation: 'WS_UNEXPECTED_CONTINUATION',
  /** RFC 6455 §5.4: a new text or binary frame while a fragmented message is in progress (1002). */
  ExpectedContinuation: 'WS_EXPECTED_CONTINUATION',
  /** RFC 6455 §5.2: a 64-bit payload length with the most significant bit set (1002). */
  InvalidPayloadLength: 'WS_INVALID_PAYLOAD_LENGTH',
  /** The message (reassembled, and inflated) would exceed `maxPayload` (1009). */
  MessageTooBig: 'WS_MESSAGE_TOO_BIG',
  /** RFC 6455 §8.1: text or a close reason that is not valid UTF-8 (1007). */
  InvalidUtf8: 'WS_INVALID_UTF8',
  /** RFC 6455 §7.4: a close frame carrying a status code that may not appear on the wire (1002). */
  InvalidCloseCode: 'WS_INVALID_CLOSE_CODE',
  /** RFC 6455 §5.5.1: a close frame whose payload is 1 byte long (1002). */
  InvalidClosePayload: 'WS_INVALID_CLOSE_PAYLOAD',
  /** RFC 7692 §6.2: compressed data that does not inflate (1007). */
  InvalidCompressedData: 'WS_INVALID_COMPRESSED_DATA',
  /** The driver failed the connection through `fail()` (the close code it gave). */
  Failed: 'WS_FAILED',
  /** Something broke inside; sends 1011 without details. */
  InternalError: 'WS_INTERNAL_ERROR',
} as const;

/** ProtocolErrorCodeValue is one of the stable codes of `ProtocolErrorCode`. */
export type ProtocolErrorCodeValue = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/**
 * ProtocolError describes why the core failed a connection: a stable `code`, the `closeCode` it sent, and a
 * human-readable `message`. It is a plain value (not an `Error`), never thrown by the core.
 */
export class ProtocolError {
  /** A stable identifier such as `'WS_INVALID_OPCODE'` (see `ProtocolErrorCode`). */
  readonly code: string;
  /** The close status code sent to the peer (1002, 1007, 1009, ...). */
  readonly closeCode: number;
  /** What went wrong, for logs; never sent to the peer by the core. */
  readonly message: string;

  /** ProtocolError makes a failure value from its stable code, the close code to send and a message. */
  constructor(code: string, closeCode: number, message: string) {
    this.code = code;
    this.closeCode = closeCode;
    this.message = message;
  }
}

/** WebSocketErrorOptions are the optional fields of a `WebSocketError`. */
export interface WebSocketErrorOptions {
  /** The underlying error or value, if any. Default: none. */
  cause?: unknown;
}

/**
 * WebSocketError is the base of every public hayate error. `code` is a stable string such as
 * `'WS_INVALID_STATE'` (a number, the close code, only on `ConnectionClosedError`).
 */
export class WebSocketError extends Error {
  /** A stable machine-readable identifier. */
  readonly code: string | number;

  /** WebSocketError makes an error with a message, a stable code and an optional cause. */
  constructor(message: string, code: string | number = 'WS_ERROR', options: WebSocketErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WebSocketError';
    this.code = code;
  }
}

/** ConnectionClosedErrorInit describes how a connection closed. */
export interface ConnectionClosedErrorInit extends WebSocketErrorOptions {
  /** The close code (1005 when the close frame had none, 1006 when there was no close frame). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
  /** True when the closing handshake completed before the TCP connection closed (RFC 6455 §7.1.4). */
  wasClean: boolean;
  /** Which side started the close: `'local'` or `'remote'`. */
  closedBy: 'local' | 'remote';
}

/** ConnectionClosedError reports an operation on, or the end of, a closed connection, with its close code. */
export class ConnectionClosedError extends WebSocketError {
  declare readonly code: number;
  /** The close reason, possibly empty. */
  readonly reason: string;
  /** True when the closing handshake completed before TCP closed. */
  readonly wasClean: boolean;
  /** Which side started the close. */
  readonly closedBy: 'local' | 'remote';

  /** ConnectionClosedError makes an error from the close code, reason, cleanliness and who closed first. */
  constructor(init: ConnectionClosedErrorInit, message?: string) {
    super(message ?? `connection closed (${init.code}${init.reason === '' ? '' : `: ${init.reason}`})`, init.code, init);
    this.name = 'ConnectionClosedError';
    this.reason = init.reason;
    this.wasClean = init.wasClean;
    this.closedBy = init.closedBy;
  }
}

/** HandshakeErrorInit describes a failed opening handshake. */
export interface HandshakeErrorInit extends WebSocketErrorOptions {
  /** The HTTP status received or sent, when there was one. Default: none. */
  status?: number;
  /** The HTTP headers received or sent, when there were some. Default: none. */
  headers?: Record<string, string | string[] | undefined>;
}

/** HandshakeError reports an opening handshake (RFC 6455 §4) that failed, with the HTTP status and headers if any. */
export class HandshakeError extends WebSocketError {
  declare readonly code: string;
  /** The HTTP status, when the failure has one. */
  readonly status: number | undefined;
  /** The HTTP headers, when the failure has them. */
  readonly headers: Record<string, string | string[] | undefined> | undefined;

  /** HandshakeError makes an error from a message and the optional status and headers. */
  constructor(message: string, init: HandshakeErrorInit = {}) {
    super(message, 'WS_HANDSHAKE_FAILED', init);
    this.name = 'HandshakeError';
    this.status = init.status;
    this.headers = init.headers;
  }
}

/** InvalidStateError reports an API call the connection's state does not allow (e.g. sending while connecting). */
export class InvalidStateError extends WebSocketError {
  declare readonly code: string;

  /** InvalidStateError makes an error from a message. */
  constructor(message: string, options: WebSocketErrorOptions = {}) {
    super(message, 'WS_INVALID_STATE', options);
    this.name = 'InvalidStateError';
  }
}

/** MessageTooBigError reports a message larger than the configured limit (`maxPayload`, close code 1009). */
export class MessageTooBigError extends WebSocketError {
  declare readonly code: string;
  /** The limit in bytes that was exceeded. */
  readonly limit: number;

  /** MessageTooBigError makes an error from the limit that was exceeded and an optional message. */
  constructor(limit: number, message = `message exceeds the limit of ${limit} bytes`, options: WebSocketErrorOptions = {}) {
    super(message, 'WS_MESSAGE_TOO_BIG', options);
    this.name = 'MessageTooBigError';
    this.limit = limit;
  }
}
