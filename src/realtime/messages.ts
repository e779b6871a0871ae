// The realtime wire protocol: zod 4 schemas for every JSON message a client sends and a server sends, and the
// TypeScript types inferred from them. docs/protocol.md is the prose version of this file; keep the two together.
//
// Every text frame is one JSON object with a `type` field. Binary frames carry a small envelope (room, kind,
// payload; see binary-envelope.ts) and are not described here.
//
// This module has no side effects and imports only zod, so the SDK can `import type` from it (and a browser bundle
// could import the schemas themselves). It does not know sockets, rooms or the hub.
import { z } from 'zod';

/** MessageLimits lists the schema-level bounds of the wire protocol (the hub may apply tighter ones). */
export const MessageLimits = {
  /** Longest client message id, in UTF-16 code units. */
  maxClientIdLength: 64,
  /** Longest room name, in UTF-8 bytes (the binary envelope stores it behind a one-byte length). */
  maxRoomBytes: 128,
  /** Longest user id accepted in `dm.to`, in UTF-16 code units. */
  maxUserIdLength: 128,
  /** Longest `chat`/`dm` text, in UTF-16 code units. */
  maxTextLength: 8192,
  /** Longest `hello.client` string. */
  maxClientNameLength: 128,
} as const;

/** INBOX_PREFIX starts the name of every user's inbox room: `@user:<id>` holds that user's direct messages. */
export const INBOX_PREFIX = '@user:';

/** inboxRoom returns the name of the inbox room of user `userId`. */
export function inboxRoom(userId: string): string {
  return INBOX_PREFIX + userId;
}

/** conversationId returns the stable id of the direct conversation between two users (order-independent). */
export function conversationId(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

const encoder = new TextEncoder();
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** RoomName is a room: 1 to 128 UTF-8 bytes, no control characters. Names starting with `@` are reserved. */
export const RoomName = z
  .string()
  .min(1)
  .refine((s) => !CONTROL.test(s), { message: 'room names contain no control characters' })
  .refine((s) => encoder.encode(s).length <= MessageLimits.maxRoomBytes, {
    message: `room names are at most ${MessageLimits.maxRoomBytes} UTF-8 bytes`,
  });

/** ClientMessageId is the optional id a client puts on a message to get an `ack` (and duplicate suppression). */
export const ClientMessageId = z.string().min(1).max(MessageLimits.maxClientIdLength);

/** Offset is a position in a room's history: offsets start at 1 and grow by 1 per stored message. */
export const Offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** UserRef identifies a user as other clients see it. */
export const UserRef = z.object({ id: z.string(), name: z.string() });

// ---------------------------------------------------------------------------------------------------------------
// client → server

/** HelloMessage asks the server to send `welcome` again (it is sent unprompted on connect). */
export const HelloMessage = z.object({
  type: z.literal('hello'),
  id: ClientMessageId.optional(),
  client: z.string().max(MessageLimits.maxClientNameLength).optional(),
});

/** JoinMessage joins a room; with `since` (the last offset seen, 0 for everything held) it also replays history. */
export const JoinMessage = z.object({
  type: z.literal('join'),
  id: ClientMessageId.optional(),
  room: RoomName,
  since: Offset.optional(),
  epoch: z.string().max(64).optional(),
});

/** LeaveMessage leaves a room. */
export const LeaveMessage = z.object({
  type: z.literal('leave'),
  id: ClientMessageId.optional(),
  room: RoomName,
});

/** ChatSendMessage sends text to a room the connection has joined. */
export const ChatSendMessage = z.object({
  type: z.literal('chat'),
  id: ClientMessageId.optional(),
  room: RoomName,
  text: z.string().min(1).max(MessageLimits.maxTextLength),
});

/** DmSendMessage sends text to a user (every connection of that user, and the sender's own connections). */
export const DmSendMessage = z.object({
  type: z.literal('dm'),
  id: ClientMessageId.optional(),
  to: z.string().min(1).max(MessageLimits.maxUserIdLength),
  text: z.string().min(1).max(MessageLimits.maxTextLength),
});

/** PingMessage is the application heartbeat (browsers cannot send WebSocket pings); the server answers `pong`. */
export const PingMessage = z.object({
  type: z.literal('ping'),
  id: ClientMessageId.optional(),
});

/** ClientMessage is any message a client may send, discriminated by `type`. */
export const ClientMessage = z.discriminatedUnion('type', [
  HelloMessage,
  JoinMessage,
  LeaveMessage,
  ChatSendMessage,
  DmSendMessage,
  PingMessage,
]);

/** CLIENT_MESSAGE_TYPES lists the `type` values a client may send. */
export const CLIENT_MESSAGE_TYPES = ['hello', 'join', 'leave', 'chat', 'dm', 'ping'] as const;

// ---------------------------------------------------------------------------------------------------------------
// server → client

/** WelcomeMessage is sent unprompted once the connection is open, and again in reply to `hello`. */
export const WelcomeMessage = z.object({
  type: z.literal('welcome'),
  connectionId: z.string(),
  user: UserRef,
  /** Server clock, milliseconds since the Unix epoch. */
  serverTime: z.number(),
  /** Interval of the transport's heartbeat; a client hearing nothing for ~2x this should send `ping`, then reconnect. */
  heartbeatMs: z.number().int().min(0),
  /** Epoch of the history store: offsets are only comparable within one epoch. */
  epoch: z.string(),
});

/** Member is one user present in a room with the number of its connections there. */
export const Member = z.object({ user: UserRef, connections: z.number().int().min(1) });

/** ReplayInfo describes the history replay that follows `joined`. */
export const ReplayInfo = z.object({
  /** First offset replayed (equal to `offset + 1` of `joined` when nothing is replayed). */
  from: Offset,
  /** Number of replayed messages that follow `joined`. */
  count: z.number().int().min(0),
  /** True when messages after `since` were already dropped from the history (a gap the client cannot fill). */
  truncated: z.boolean(),
  /** True when the client's `epoch` differs from the server's: its `since` meant nothing, replay restarted at 0. */
  epochChanged: z.boolean(),
});

/** JoinedMessage answers `join`: the member list, the room's latest offset, and what replay follows. */
export const JoinedMessage = z.object({
  type: z.literal('joined'),
  room: RoomName,
  /** Users present, with their connection counts (at most the server's listing bound, see `memberCount`). */
  members: z.array(Member),
  /** Number of users present; larger than `members.length` when the list was cut at the server's bound. */
  memberCount: z.number().int().min(0).optional(),
  epoch: z.string(),
  /** Latest offset of the room when the join was served (0 for an empty room). */
  offset: Offset,
  replay: ReplayInfo,
});

/** LeftMessage answers `leave`. */
export const LeftMessage = z.object({ type: z.literal('left'), room: RoomName });

/** ChatMessage is a room message as delivered (live or replayed). */
export const ChatMessage = z.object({
  type: z.literal('chat'),
  /** Server-assigned message id, unique across rooms and epochs. */
  id: z.string(),
  room: RoomName,
  offset: Offset,
  from: UserRef,
  text: z.string(),
  /** Server time the message was accepted, milliseconds since the Unix epoch. */
  ts: z.number(),
  /** The sender's client message id, when it gave one (lets the sender match its optimistic copy). */
  clientId: z.string().optional(),
});

/** DmMessage is a direct message as delivered; `room` is the receiving user's inbox and `offset` is in that inbox. */
export const DmMessage = z.object({
  type: z.literal('dm'),
  id: z.string(),
  /** The inbox room (`@user:<id>`) this copy was stored in; resume it with `join { room, since: offset }`. */
  room: z.string(),
  /** Stable id of the conversation between the two users, whichever inbox the copy is in. */
  conversation: z.string(),
  offset: Offset,
  from: UserRef,
  to: UserRef,
  text: z.string(),
  ts: z.number(),
  clientId: z.string().optional(),
});

/** PresenceMessage reports a user entering a room (first connection) or leaving it (last connection closed). */
export const PresenceMessage = z.object({
  type: z.literal('presence'),
  room: RoomName,
  event: z.enum(['join', 'leave']),
  user: UserRef,
  /** The user's connection count in the room after the event (0 on `leave`). */
  connections: z.number().int().min(0),
});

/** AckMessage confirms a client message that carried an `id`; `offset` is where a chat/dm was stored. */
export const AckMessage = z.object({
  type: z.literal('ack'),
  id: z.string(),
  ok: z.literal(true),
  offset: Offset.optional(),
  /** True when the id had been seen before and the message was not delivered again. */
  duplicate: z.boolean().optional(),
});

/** ERROR_CODES lists the stable `error.code` values. */
export const ERROR_CODES = [
  'invalid_json',
  'unknown_type',
  'invalid_message',
  'not_in_room',
  'forbidden',
  'rate_limited',
  'too_large',
  'invalid_binary',
  'internal_error',
] as const;

/** ErrorCode is one stable error code (see docs/protocol.md for each). */
export const ErrorCode = z.enum(ERROR_CODES);

/** ErrorMessage refuses a client message; the connection stays open unless a close follows. */
export const ErrorMessage = z.object({
  type: z.literal('error'),
  /** The refused message's id, when it had one and could be read. */
  id: z.string().optional(),
  code: ErrorCode,
  message: z.string(),
  /** With `rate_limited`: milliseconds after which the message would be accepted. */
  retryAfterMs: z.number().int().min(0).optional(),
});

/** PongMessage answers `ping`. */
export const PongMessage = z.object({
  type: z.literal('pong'),
  id: z.string().optional(),
  ts: z.number(),
});

/** ServerMessage is any message a server may send, discriminated by `type`. */
export const ServerMessage = z.discriminatedUnion('type', [
  WelcomeMessage,
  JoinedMessage,
  LeftMessage,
  ChatMessage,
  DmMessage,
  PresenceMessage,
  AckMessage,
  ErrorMessage,
  PongMessage,
]);

export type UserRef = z.infer<typeof UserRef>;
export type HelloMessage = z.infer<typeof HelloMessage>;
export type JoinMessage = z.infer<typeof JoinMessage>;
export type LeaveMessage = z.infer<typeof LeaveMessage>;
export type ChatSendMessage = z.infer<typeof ChatSendMessage>;
export type DmSendMessage = z.infer<typeof DmSendMessage>;
export type PingMessage = z.infer<typeof PingMessage>;
export type ClientMessage = z.infer<typeof ClientMessage>;
export type WelcomeMessage = z.infer<typeof WelcomeMessage>;
export type Member = z.infer<typeof Member>;
export type ReplayInfo = z.infer<typeof ReplayInfo>;
export type JoinedMessage = z.infer<typeof JoinedMessage>;
export type LeftMessage = z.infer<typeof LeftMessage>;
export type ChatMessage = z.infer<typeof ChatMessage>;
export type DmMessage = z.infer<typeof DmMessage>;
export type PresenceMessage = z.infer<typeof PresenceMessage>;
export type AckMessage = z.infer<typeof AckMessage>;
export type ErrorCode = z.infer<typeof ErrorCode>;
export type ErrorMessage = z.infer<typeof ErrorMessage>;
export type PongMessage = z.infer<typeof PongMessage>;
export type ServerMessage = z.infer<typeof ServerMessage>;
export type ClientMessageType = (typeof CLIENT_MESSAGE_TYPES)[number];

/** AppCloseCode lists the application close codes (4000-4999) the server uses; docs/close-codes.md gives the policy. */
export const AppCloseCode = {
  /** The token expired or was revoked while connected: get a new token, then reconnect. */
  Unauthorized: 4001,
  /** The user may not use this service (banned, wrong audience): do not reconnect. */
  Forbidden: 4003,
} as const;

/** ReconnectPolicy is what a client does after a close code: `retry`, `reauthenticate` then retry, or `stop`. */
export type ReconnectPolicy = 'retry' | 'reauthenticate' | 'stop';

/** CLOSE_POLICY maps close codes to the reconnect policy of docs/close-codes.md; unlisted 4000-4999 codes mean `stop`, other unlisted codes `retry`. */
export const CLOSE_POLICY = {
  1000: 'stop',
  1001: 'retry',
  1006: 'retry',
  1008: 'stop',
  1009: 'stop',
  1011: 'retry',
  1012: 'retry',
  1013: 'retry',
  4001: 'reauthenticate',
  4003: 'stop',
} as const satisfies Record<number, ReconnectPolicy>;
