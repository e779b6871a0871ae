// hayate/sdk: the public surface of the client SDK (a reconnecting, resuming chat client for browsers and Node).
// Everything here runs on a WHATWG WebSocket alone; nothing imports Node built-ins. A test pins these names
// (test/sdk/index.test.ts): adding or removing one is an API change.

export { Backoff, type BackoffOptions } from './backoff.js';
export {
  ChatClient,
  INBOX_PREFIX,
  MAX_TEXT_LENGTH,
  PROTOCOL,
  type ChatClientEvents,
  type ChatClientOptions,
  type ChatState,
  type JoinedEvent,
  type PendingMessage,
  type SendResult,
  type TokenSource,
} from './chat-client.js';
export {
  decideClose,
  defaultClosePolicy,
  type CloseAction,
  type CloseDecision,
  type ClosePolicyEntry,
  type ClosePolicyTable,
} from './close-policy.js';
export { systemClock, type Clock, type TimerHandle } from './clock.js';
export { Emitter, type Listener } from './emitter.js';
export { ChatError, type ChatErrorCode } from './errors.js';
export { Outbox, OutboxFullError, type OutboxOptions, type OverflowPolicy } from './outbox.js';
export {
  ReconnectingSocket,
  browserEnvironment,
  type CloseInfo,
  type ConnectionState,
  type ConnectTarget,
  type EnvironmentLike,
  type HeartbeatOptions,
  type ReconnectingSocketEvents,
  type ReconnectingSocketOptions,
  type UrlSource,
  type WebSocketConstructor,
  type WebSocketLike,
} from './reconnecting-socket.js';
export type {
  ChatMessage,
  DmMessage,
  JoinedMessage,
  Member,
  PresenceMessage,
  ReplayInfo,
  UserRef,
  WelcomeMessage,
} from '../realtime/messages.js';
