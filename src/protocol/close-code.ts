/**
 * Close status codes (RFC 6455 §7.4, and the IANA "WebSocket Close Code Number Registry").
 *
 * `CloseCode` names the assigned codes; `isValidReceivedCloseCode` says which codes may appear in a received Close
 * frame, `isValidSendCloseCode` which ones our API lets an application send. Application codes (4000-4999) and their
 * reconnect policies are documented in docs/close-codes.md, not here.
 */

/** CloseCode names the IANA-assigned close status codes (RFC 6455 §7.4.1 and the registry). */
export const CloseCode = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never on the wire; reported when a Close frame had no status code. */
  NoStatusReceived: 1005,
  /** Reserved: never on the wire; reported when the connection closed without a Close frame. */
  AbnormalClosure: 1006,
  InvalidFramePayloadData: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never on the wire; reported when the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

/** CloseCodeValue is one of the assigned codes of `CloseCode`. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * isValidReceivedCloseCode says whether a status code may appear in a Close frame received from the peer.
 *
 * RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame by an endpoint";
 * §7.4.2: codes 0-999 "are not used", 1000-2999 are reserved for the protocol and its extensions (so only the
 * assigned ones, 1000-1003 and 1007-1014, are meaningful), 3000-3999 are registered and 4000-4999 private use.
 * Anything else fails the connection with 1002.
 */
export function isValidReceivedCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * isValidSendCloseCode says whether our API lets an application send this status code: 1000, the assigned codes
 * that may be on the wire (1001-1003, 1007-1014) and 3000-4999. 1005, 1006 and 1015 never are.
 * (The WHATWG client narrows this to 1000 and 3000-4999 itself.)
 */
export function isValidSendCloseCode(code: number): boolean {
  return Number.isInteger(code) && isValidReceivedCloseCode(code);
}
