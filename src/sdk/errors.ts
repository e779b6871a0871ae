// ChatError: the one error class the chat client rejects promises with and emits as `error`.
// Its `code` is either a server error code from docs/protocol.md ("Error codes") or one the SDK adds for what
// happens on its side (`disconnected`, `stopped`, `outbox_full`). It does not wrap WebSocket transport errors:
// those surface as connection state changes (reconnecting / closed with a reason).

import type { ErrorCode } from '../realtime/messages.js';

/** ChatErrorCode is a server error code or one of the SDK's own: disconnected, stopped, outbox_full. */
export type ChatErrorCode = ErrorCode | 'disconnected' | 'stopped' | 'outbox_full';

/** ChatErrorOptions carries the optional details of a ChatError. */
export interface ChatErrorOptions {
  /** The client message id the error is about, when there is one. */
  id?: string;
  /** With `rate_limited`: when the server would accept the message, in ms. */
  retryAfterMs?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** ChatError reports a refused message, a dropped one, or an operation cut short by a disconnect. */
export class ChatError extends Error {
  override readonly name = 'ChatError';
  readonly code: ChatErrorCode;
  readonly id: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(code: ChatErrorCode, message: string, options: ChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.id = options.id;
    this.retryAfterMs = options.retryAfterMs;
  }
}
