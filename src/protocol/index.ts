/**
 * The public surface of hayate's sans-I/O protocol layer (`hayate/protocol`). Other layers import only this file.
 */
export { Opcode, isControlOpcode, isKnownOpcode } from './opcode.js';
export type { OpcodeValue } from './opcode.js';
export { CloseCode, isValidReceivedCloseCode, isValidSendCloseCode } from './close-code.js';
export type { CloseCodeValue } from './close-code.js';
export {
  ProtocolError,
  ProtocolErrorCode,
  WebSocketError,
  ConnectionClosedError,
  HandshakeError,
  InvalidStateError,
  MessageTooBigError,
} from './errors.js';
export type {
  ProtocolErrorCodeValue,
  WebSocketErrorOptions,
  ConnectionClosedErrorInit,
  HandshakeErrorInit,
} from './errors.js';
export {
  DEFAULT_MAX_PAYLOAD,
  MAX_CONTROL_PAYLOAD,
  MAX_CLOSE_REASON_BYTES,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
} from './limits.js';
export type { MessageExtension } from './extension.js';
export { sharedReadBuffer } from './mask.js';
export * from './handshake.js';
export * from './header-values.js';
export * from './deflate-params.js';
export { WebSocketProtocol, ReadyState } from './protocol.js';
export type { ProtocolOptions, ProtocolEvent, Role, ReadyStateValue, CloseInfo, FragmentOpcode } from './protocol.js';
export { PreparedMessage, prepareMessage } from './prepared-message.js';
export type { PrepareMessageOptions } from './prepared-message.js';
