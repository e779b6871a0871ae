// The Node layer's public surface (`hayate/node`): the server, the transport connection and the heartbeat. The client
// engineer appends the WHATWG client's exports below.
//
// What it does not export: the process-wide deadline timer and flush queue (internals of the transport).
export { Connection, ReadyState, DEFAULT_CLOSE_TIMEOUT, DEFAULT_READ_PAUSE_BYTES } from './connection.js';
export type { ConnectionOptions, ConnectionData, SendOptions, SendCallback } from './connection.js';
export { WebSocketServer, DEFAULT_HANDSHAKE_TIMEOUT } from './server.js';
export type {
  AcceptHook,
  AcceptInfo,
  AcceptRejection,
  AcceptResult,
  HandleProtocols,
  UpgradeCallback,
  VerifyClient,
  VerifyClientDone,
  VerifyClientInfo,
  WebSocketServerOptions,
} from './server.js';
export { MessageStream } from './message-stream.js';
export type { MessageStreamOptions } from './message-stream.js';
export { Heartbeat, DEFAULT_HEARTBEAT_INTERVAL } from './keepalive.js';
export type { HeartbeatOptions, HeartbeatTarget } from './keepalive.js';
export { WebSocket, CloseEvent, ErrorEvent } from './websocket.js';
export type {
  WebSocketOptions,
  WebSocketData,
  BinaryType,
  CloseEventInit,
  ErrorEventInit,
  WebSocketEventMap,
  WebSocketEventHandler,
} from './websocket.js';
export { connect } from './connect.js';
export type { ConnectOptions, ClientOptions, ClientTlsOptions } from './connect.js';
