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
 * docs/close-codes.md: "the SDK treats an unknown 4xxx code as **stop**, any other unknown code as **retry**."
 */
export const defaultClosePolicy = {
  // RFC 6455 §7.4.1: 1000 "indicates a normal closure, meaning that the purpose for which the connection was
  // established has been fulfilled." hayate sends it when the server ends a session deliberately: stay closed.
  1000: { action: 'stop', reason: 'the server ended the session' },
  1001: { action: 'retry', reason: 'the server is going away' },
  1006: { action: 'retry', reason: 'the connection was lost' },
  // RFC 6455 §7.4.1: 1008 "indicates that an endpoint is terminating the connection because it has received a
  // message that violates its policy." Coming back would repeat the violation (docs/close-codes.md: stop).
  1008: { action: 'stop', reason: 'the server closed the connection for a policy violation' },
  1009: { action: 'stop', reason: 'a message was too big for the server' },
  1011: { action: 'retry', reason: 'the server hit an internal error' },
  1012: { action: 'retry', reason: 'the server is restarting' },
  // docs/close-codes.md: 1013 "retry (backoff, first attempt not before 1-5 s)".
  1013: { action: 'retry', reason: 'the server is overloaded: trying again later', minDelayMs: 1_000 },
  4001: { action: 'reauth', reason: 'the token expired or was revoked' },
  4003: { action: 'stop', reason: 'this user is not allowed to use the service' },
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
