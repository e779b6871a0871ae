// The public surface of hayate/realtime: the hub, its Socket and Broker interfaces, the in-memory broker, handshake
// authentication, the wire protocol's schemas and types, and the binary envelope. Nothing here imports Node's network
// stack or a Redis client.
export { Hub, withOffset, offsetOf } from './hub.js';
export type { HubOptions, HubObserver, HubLogger, ConnectionIdentity, Admission } from './hub.js';
export type { Socket, Prepared, PrepareFunction } from './socket.js';
export { identityPrepare } from './socket.js';
export type { Broker, ChannelListener, Subscription, HistoryEntry, HistoryPage, PresenceRecord } from './broker.js';
export { MemoryBroker } from './brokers/memory.js';
export type { MemoryBrokerOptions } from './brokers/memory.js';
export { createAuthenticator, selectSubprotocol, offeredProtocols, tokenFromRequest, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from './auth.js';
export type { AuthOptions, AuthRequest, AuthResult, Authenticator, Identity } from './auth.js';
export { TokenBucket } from './rate-limit.js';
export type { RateLimit } from './rate-limit.js';
export { encodeBinaryEnvelope, decodeBinaryEnvelope, BINARY_ENVELOPE_VERSION } from './binary-envelope.js';
export type { BinaryEnvelope } from './binary-envelope.js';
export * from './messages.js';
