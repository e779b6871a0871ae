// Close policy: what the SDK does after a connection closes, by close code.
// RFC 6455 §7.4.1 defines 1000-1015; hayate's application codes (4000-4999) and their reconnect policy are listed in
// docs/close-codes.md, and this table obeys it. Three actions: `retry` (reconnect with backoff), `reauth` (fetch a
// fresh token, then reconnect) and `stop` (stay closed and report why). A close the application asked for
// (`disconnect()`) always stops. This module only decides; it does not schedule (reconnecting-socket.ts does).

/** CloseAction is what to do after a close: reconnect, re-authenticate then reconnect, or stay closed. */
export type CloseAction = 'retry' | 'reauth' | 'stop';

/** ClosePolicyEntry is one row of the table: the action, a human reason, and an optional smallest delay. */
export interface ClosePolicyEntry {
  readonly action: CloseAction;
  readonly reason: string;
  /** Smallest delay before the next attempt, in ms (e.g. 1013 Try Again Later). Default none. */
  readonly minDelayMs?: number;
}

/** CloseDecision is the outcome of `decideClose`: the entry plus the code and reason it was made for. */
export interface CloseDecision extends ClosePolicyEntry {
  readonly code: number;
  /** The close frame's reason text, when the peer sent one. */
  readonly closeReason: string;
}

/** ClosePolicyTable maps close codes to entries; codes not listed fall back to `defaultClosePolicy`'s ranges. */
export type ClosePolicyTable = Readonly<Record<number, ClosePolicyEntry>>;

/** ClientClose is the reserved code the SDK reports when the application itself called `disconnect()`. */
export const CLIENT_DISCONNECT = 1000;

/**
 * defaultClosePolicy is the reconnect policy per close code (RFC 6455 §7.4.1 and docs/close-codes.md).
 * Unlisted 1xxx/2xxx/3xxx codes retry; unlisted 4xxx codes stop (an application code we do not know is not a
 * reason to hammer the server).
 */
export const defaultClosePolicy = {
  // RFC 6455 §7.4.1: 1000 "indicates a normal closure, meaning that the purpose for which the connection was
  // established has been fulfilled." The server ended the session on purpose: do not come back by ourselves.
  1000: { action: 'stop', reason: 'the server closed the session normally' },
  1001: { action: 'retry', reason: 'the server is going away' },
  1002: { action: 'retry', reason: 'protocol error' },
  1003: { action: 'stop', reason: 'the server cannot accept this data type' },
  1005: { action: 'retry', reason: 'closed without a status code' },
  1006: { action: 'retry', reason: 'the connection was lost' },
  1007: { action: 'stop', reason: 'the server rejected invalid message data' },
  // RFC 6455 §7.4.1: 1008 "indicates that an endpoint is terminating the connection because it has received a
  // message that violates its policy." Coming back would violate it again.
  1008: { action: 'stop', reason: 'the server closed the connection for a policy violation' },
  1009: { action: 'stop', reason: 'a message was too big for the server' },
  1010: { action: 'stop', reason: 'a required extension was not negotiated' },
  1011: { action: 'retry', reason: 'the server hit an internal error' },
  1012: { action: 'retry', reason: 'the server is restarting' },
  1013: { action: 'retry', reason: 'the server is overloaded: try again later', minDelayMs: 5_000 },
  1014: { action: 'retry', reason: 'bad gateway' },
  1015: { action: 'stop', reason: 'the TLS handshake failed' },
  4000: { action: 'retry', reason: 'the heartbeat timed out' },
  4001: { action: 'reauth', reason: 'authentication required or token expired' },
  4003: { action: 'stop', reason: 'forbidden' },
  4008: { action: 'retry', reason: 'rate limited', minDelayMs: 5_000 },
  4009: { action: 'stop', reason: 'replaced by a newer connection' },
} as const satisfies ClosePolicyTable;

/** DecideCloseOptions tells `decideClose` who closed and which table to use. */
export interface DecideCloseOptions {
  /** True when the application called `disconnect()`; such a close always stops. Default false. */
  byClient?: boolean;
  /** Overrides merged over `defaultClosePolicy`. Default none. */
  policy?: ClosePolicyTable;
}

/** decideClose returns what to do after a close with `code` (and the peer's `reason` text). */
export function decideClose(code: number, closeReason = '', options: DecideCloseOptions = {}): CloseDecision {
  if (options.byClient === true) {
    return { code, closeReason, action: 'stop', reason: 'disconnect() was called' };
  }
  const entry: ClosePolicyEntry | undefined =
    options.policy?.[code] ?? (defaultClosePolicy as ClosePolicyTable)[code];
  if (entry !== undefined) return { ...entry, code, closeReason };
  if (code >= 4000 && code <= 4999) {
    return { code, closeReason, action: 'stop', reason: `the server closed with application code ${code}` };
  }
  return { code, closeReason, action: 'retry', reason: `the connection closed with code ${code}` };
}
