// The public surface of hayate/realtime: the hub, its Socket and Broker interfaces, the in-memory broker, handshake
// authentication, the wire protocol's top-level schemas and types, and the binary envelope. Nothing here imports a
// Redis package (the Redis broker speaks RESP itself). (Individual message schemas live in ./messages.js for those who need them.)
export { Hub } from './hub.js';
export type { HubOptions, HubObserver, HubLogger, ConnectionIdentity, Admission } from './hub.js';
export type { Socket, Prepared, PrepareFunction } from './socket.js';
export type {
  Broker, ChannelListener, Subscription, HistoryEntry, HistoryPage, PresenceRecord, AppendOptions, AppendResult, ResyncInfo,
} from './broker.js';
export { MemoryBroker } from './brokers/memory.js';
export type { MemoryBrokerOptions } from './brokers/memory.js';
export { RedisBroker } from './brokers/redis.js';
export type { RedisBrokerOptions } from './brokers/redis.js';
export { createAuthenticator, selectSubprotocol, SUBPROTOCOL } from './auth.js';
export type { AuthOptions, AuthRequest, AuthResult, Authenticator, Identity } from './auth.js';
export type { RateLimit } from './rate-limit.js';
export { encodeBinaryEnvelope, decodeBinaryEnvelope } from './binary-envelope.js';
export type { BinaryEnvelope } from './binary-envelope.js';
export {
  ClientMessage, ServerMessage, MessageLimits, ERROR_CODES, AppCloseCode, CLOSE_POLICY, INBOX_PREFIX, inboxRoom, conversationId,
} from './messages.js';
export type {
  UserRef, Member, ReplayInfo, HelloMessage, JoinMessage, LeaveMessage, ChatSendMessage, DmSendMessage, PingMessage,
  WelcomeMessage, JoinedMessage, LeftMessage, ChatMessage, DmMessage, PresenceMessage, AckMessage, ErrorMessage,
  PongMessage, ErrorCode, ReconnectPolicy, ClientMessageType,
} from './messages.js';
