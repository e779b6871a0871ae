// ChatClient: the typed chat API over a ReconnectingSocket, speaking the hayate.v1 protocol (docs/protocol.md).
// It authenticates at the handshake (token in `Sec-WebSocket-Protocol` or `?token=`; dev-mode `?name=`), waits for
// `welcome`, then on every connection resumes: joins each room (and the user's inbox `@user:<id>`) with `since` = the
// last offset seen and its epoch, waits for those joins to be answered, and only then sends the outbox (unacked
// messages, each once per connection; the server drops duplicate ids). Replayed and live messages pass a duplicate
// filter (per-room offset within an epoch, plus a bounded set of seen message ids) so the application sees each
// message once, in order. `send`/`dm`/`join`/`leave` return promises settled by the server's `ack`/`joined`/`left`.
// It does not render anything, store history across page loads, or validate server messages with zod (the bundle
// stays small; a message it does not understand is ignored).

import type {
  ChatMessage,
  DmMessage,
  ErrorMessage,
  JoinedMessage,
  Member,
  PresenceMessage,
  ServerMessage,
  UserRef,
  WelcomeMessage,
} from '../realtime/messages.js';
import type { BackoffOptions, Backoff } from './backoff.js';
import type { ClosePolicyTable } from './close-policy.js';
import type { Clock } from './clock.js';
import { Emitter } from './emitter.js';
import { ChatError } from './errors.js';
import { Outbox, OutboxFullError, type OutboxOptions } from './outbox.js';
import {
  ReconnectingSocket,
  type CloseInfo,
  type ConnectionState,
  type ConnectTarget,
  type EnvironmentLike,
  type WebSocketConstructor,
} from './reconnecting-socket.js';

/** PROTOCOL is the WebSocket subprotocol of the hayate realtime protocol. */
export const PROTOCOL = 'hayate.v1';
/** INBOX_PREFIX starts every user's inbox room (`@user:<id>`), as in src/realtime/messages.ts. */
export const INBOX_PREFIX = '@user:';
/** MAX_TEXT_LENGTH is the longest chat/dm text the server accepts, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 8192;

/** TokenSource is a JWT, or a function returning one (called before every connection attempt). */
export type TokenSource = string | (() => string | Promise<string>);

/** ChatClientOptions configures a ChatClient. */
export interface ChatClientOptions {
  /** The server's WebSocket URL, e.g. `wss://chat.example/ws`. Required. */
  url: string;
  /** A JWT or a function returning a fresh one; required for re-authentication after 4001. Default none. */
  token?: TokenSource;
  /**
   * How the token travels: `'protocol'` offers `hayate.v1` and `token.<jwt>` as subprotocols (kept out of access
   * logs); `'query'` adds `?token=`. Default `'protocol'`.
   */
  tokenTransport?: 'protocol' | 'query';
  /** Development-mode display name, sent as `?name=`. Default none (the server picks `guest-xxxx`). */
  name?: string;
  /** The WebSocket class. Default `globalThis.WebSocket` (browsers; Node passes one in). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delay schedule. Default 500 ms window doubling to 30 s, reset after 10 s up. */
  backoff?: Backoff | BackoffOptions;
  /** Close-code overrides merged over `defaultClosePolicy`. Default none. */
  closePolicy?: ClosePolicyTable;
  /** Bounds and overflow policy of the offline queue. Default 500 messages, 1 MiB, `'reject-new'`. */
  outbox?: OutboxOptions;
  /** Time allowed for a WebSocket to open, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Consecutive attempts failing before `open` after which the client stops ("cannot connect"). Default 20. */
  maxFailedAttempts?: number;
  /**
   * Dead-link bound before the first `welcome` (which replaces it with the server's heartbeatMs × 2): quiet time
   * before a `ping`, in ms. Default 30 000.
   */
  heartbeatIntervalMs?: number;
  /** Load the retained history when joining a room for the first time (`since: 0`). Default true. */
  history?: boolean;
  /** How many delivered message ids are remembered for duplicate suppression. Default 10 000. */
  seenIdsLimit?: number;
  /** Makes client message ids (unique per user across tabs and reloads). Default a random prefix plus a counter. */
  createId?: () => string;
  /** Time source and timers. Default the system clock. */
  clock?: Clock;
  /** online/offline and visibility source; `null` disables it. Default the browser's when present. */
  environment?: EnvironmentLike | null;
}

/** ChatState is the chat connection state; `open` means welcomed by the server (the WebSocket alone is not enough). */
export type ChatState = ConnectionState;

/** SendResult is what the server acknowledged: the message's client id, stored offset, and whether it was a resend. */
export interface SendResult {
  readonly id: string;
  readonly offset: number | undefined;
  readonly duplicate: boolean;
}

/** PendingMessage is a chat or DM held until acknowledged (shown as pending by an app). */
export type PendingMessage =
  | { readonly kind: 'chat'; readonly id: string; readonly room: string; readonly text: string }
  | { readonly kind: 'dm'; readonly id: string; readonly to: string; readonly text: string };

/** JoinedEvent is a `joined` reply plus whether it resumed a room after a reconnect. */
export interface JoinedEvent extends Omit<JoinedMessage, 'type'> {
  /** True when this join was sent by the SDK to resume the room after a reconnect. */
  readonly resumed: boolean;
}

/** ChatClientEvents are the events a ChatClient emits. */
export interface ChatClientEvents {
  /** The connection state changed. */
  state: ChatState;
  /** The server welcomed this connection (identity, heartbeat, epoch). */
  welcome: WelcomeMessage;
  /** A room was joined or resumed; check `replay.truncated` and `replay.epochChanged` for gaps to tell the user. */
  joined: JoinedEvent;
  /** A room was left. */
  left: { readonly room: string };
  /** A room message, each once and in room order (replayed history first, then live). */
  message: ChatMessage;
  /** A direct message (a copy in this user's inbox), each once and in inbox order. */
  dm: DmMessage;
  /** A user entered or left a room. */
  presence: PresenceMessage;
  /** A room's member list changed (after `joined` or `presence`). */
  members: { readonly room: string; readonly members: readonly Member[] };
  /** A pending message was acknowledged. */
  ack: SendResult;
  /** A refused message without a waiting promise, a dropped message, or a server error without an id. */
  error: ChatError;
  /** A WebSocket closed; `action` says whether the client reconnects. */
  close: CloseInfo;
}

type Meta = PendingMessage;

interface RoomState {
  /** Epoch of `offset`; undefined before the first `joined`. */
  epoch: string | undefined;
  /** Last offset delivered to the application; -1 before any join (no history requested yet). */
  offset: number;
  /** The id of the join waiting for `joined` on this connection, or null. */
  joinId: string | null;
  /** Whether the join in flight resumes the room after a reconnect. */
  resuming: boolean;
  members: Map<string, Member>;
  waiters: Array<{ resolve: (event: JoinedEvent) => void; reject: (error: Error) => void }>;
  /** Inbox rooms are joined by the SDK itself and are never left. */
  inbox: boolean;
}

/** ChatClient is the reconnecting, resuming chat API: rooms, messages, DMs, presence, and connection state. */
export class ChatClient extends Emitter<ChatClientEvents> {
  #options: ChatClientOptions;
  #socket: ReconnectingSocket;
  #outbox: Outbox<Meta, SendResult>;
  #rooms = new Map<string, RoomState>();
  #leaves = new Map<string, Array<() => void>>();
  #joinIds = new Map<string, string>();
  #seen = new Set<string>();
  #seenLimit: number;
  #createId: () => string;
  #user: UserRef | null = null;
  #welcome: WelcomeMessage | null = null;
  #state: ChatState = { kind: 'idle' };
  /** Counts connections; the outbox marks entries as sent per connection. */
  #session = 0;
  /** True once `welcome` arrived on the current connection. */
  #welcomed = false;
  /** Joins of the current resume still unanswered; the outbox is sent when it reaches 0. */
  #resumePending = new Set<string>();
  #flushing = false;
  #retryTimer: unknown = null;
  #disconnecting = false;

  constructor(options: ChatClientOptions) {
    super();
    this.#options = options;
    this.#seenLimit = options.seenIdsLimit ?? 10_000;
    this.#createId = options.createId ?? defaultIdFactory();
    this.#outbox = new Outbox<Meta, SendResult>(options.outbox);
    this.#outbox.on('overflow', ({ entry, error }) => this.#emitOverflow(entry.meta, error));
    this.#socket = new ReconnectingSocket({
      url: () => this.#target(),
      ...(options.WebSocket !== undefined ? { WebSocket: options.WebSocket } : {}),
      ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
      ...(options.closePolicy !== undefined ? { closePolicy: options.closePolicy } : {}),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.maxFailedAttempts !== undefined ? { maxFailedAttempts: options.maxFailedAttempts } : {}),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
      ...(options.environment !== undefined ? { environment: options.environment } : {}),
      heartbeat: {
        intervalMs: options.heartbeatIntervalMs ?? 30_000,
        timeoutMs: 10_000,
        probe: () => '{"type":"ping"}',
      },
    });
    this.#socket.on('state', (state) => this.#onSocketState(state));
    this.#socket.on('message', (data) => this.#onMessage(data));
    this.#socket.on('close', (info) => this.emit('close', info));
    this.#socket.on('error', (error) => this.emit('error', new ChatError('internal_error', error.message, { cause: error })));
  }

  /** state is the current connection state. */
  get state(): ChatState {
    return this.#state;
  }

  /** user is who the server says this client is (from the last `welcome`), or null before the first one. */
  get user(): UserRef | null {
    return this.#user;
  }

  /** welcome is the last `welcome` received, or null. */
  get welcome(): WelcomeMessage | null {
    return this.#welcome;
  }

  /** rooms lists the rooms this client is in (or will rejoin), without the inbox. */
  rooms(): string[] {
    return [...this.#rooms].filter(([, r]) => !r.inbox).map(([name]) => name);
  }

  /** members returns a room's current members (empty when unknown). */
  members(room: string): Member[] {
    return [...(this.#rooms.get(room)?.members.values() ?? [])];
  }

  /** pending lists the chats and DMs not yet acknowledged, oldest first. */
  pending(): PendingMessage[] {
    return this.#outbox.entries().map((e) => e.meta);
  }

  /** lastOffset returns the last offset delivered for `room` (0 when none), as `since` for the next resume. */
  lastOffset(room: string): number {
    return Math.max(0, this.#rooms.get(room)?.offset ?? 0);
  }

  /** createMessageId returns a fresh client message id (pass it to `send`/`dm` to show the message as pending). */
  createMessageId(): string {
    return this.#createId();
  }

  /** connect starts connecting; rooms joined earlier are resumed. It does nothing while already connected. */
  connect(): void {
    this.#socket.connect();
  }

  /**
   * disconnect closes with 1000 and does not reconnect; pending messages and joins reject with `disconnected`.
   * Joined rooms are kept, so a later `connect()` resumes them.
   */
  disconnect(): void {
    this.#disconnecting = true;
    this.#socket.disconnect(1000, 'client disconnect');
    this.#disconnecting = false;
    this.#failEverything(new ChatError('disconnected', 'disconnect() was called'));
  }

  /**
   * join joins `room` (also while disconnected: it is joined on connect) and resolves with the server's `joined`.
   * The first join loads the retained history when the `history` option is on; later resumes replay what was missed.
   */
  join(room: string): Promise<JoinedEvent> {
    if (room.length === 0 || room.startsWith('@')) {
      return Promise.reject(new ChatError('forbidden', `cannot join ${JSON.stringify(room)}: names starting with @ are reserved`));
    }
    let state = this.#rooms.get(room);
    if (state === undefined) {
      state = newRoom(false);
      this.#rooms.set(room, state);
    }
    const r = state;
    const promise = new Promise<JoinedEvent>((resolve, reject) => r.waiters.push({ resolve, reject }));
    if (this.#welcomed && r.joinId === null) this.#sendJoin(room, r, false);
    return promise;
  }

  /** leave leaves `room` and resolves on the server's `left` (at once when not connected). */
  leave(room: string): Promise<void> {
    const r = this.#rooms.get(room);
    if (r === undefined || r.inbox) return Promise.resolve();
    this.#rooms.delete(room);
    if (r.joinId !== null) this.#joinIds.delete(r.joinId);
    for (const w of r.waiters) w.reject(new ChatError('not_in_room', `left ${room} before it was joined`));
    if (!this.#welcomed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const list = this.#leaves.get(room) ?? [];
      list.push(resolve);
      this.#leaves.set(room, list);
      this.#socket.send(JSON.stringify({ type: 'leave', room }));
    });
  }

  /**
   * send posts `text` to `room` and resolves when the server acknowledges it. While disconnected the message waits
   * in the outbox and is sent after reconnecting (once: the server drops duplicate ids).
   * Rejects with ChatError `invalid_message` (bad text), `not_in_room`, `outbox_full`, a server code, or
   * `disconnected`/`stopped`.
   */
  send(room: string, text: string, options: { id?: string } = {}): Promise<SendResult> {
    if (!this.#rooms.has(room) || this.#rooms.get(room)?.inbox === true) {
      return Promise.reject(new ChatError('not_in_room', `join ${room} before sending to it`));
    }
    const id = options.id ?? this.#createId();
    return this.#enqueue({ kind: 'chat', id, room, text }, { type: 'chat', id, room, text });
  }

  /** dm sends `text` to user `to` (every connection of theirs and of this user) and resolves on the ack. */
  dm(to: string, text: string, options: { id?: string } = {}): Promise<SendResult> {
    const id = options.id ?? this.#createId();
    return this.#enqueue({ kind: 'dm', id, to, text }, { type: 'dm', id, to, text });
  }

  #enqueue(meta: PendingMessage, message: object): Promise<SendResult> {
    if (meta.text.length === 0 || meta.text.length > MAX_TEXT_LENGTH) {
      return Promise.reject(new ChatError('invalid_message', `text must be 1 to ${MAX_TEXT_LENGTH} characters`, { id: meta.id }));
    }
    const promise = this.#outbox.add(meta.id, JSON.stringify(message), meta).catch((error: unknown) => {
      throw error instanceof OutboxFullError ? new ChatError('outbox_full', error.message, { id: meta.id, cause: error }) : error;
    });
    this.#flush();
    return promise;
  }

  async #target(): Promise<ConnectTarget> {
    const url = new URL(this.#options.url);
    if (this.#options.name !== undefined && this.#options.name !== '') url.searchParams.set('name', this.#options.name);
    const source = this.#options.token;
    const token = typeof source === 'function' ? await source() : source;
    if (token === undefined || token === '') return { url: url.href, protocols: [PROTOCOL] };
    if (this.#options.tokenTransport === 'query') {
      url.searchParams.set('token', token);
      return { url: url.href, protocols: [PROTOCOL] };
    }
    return { url: url.href, protocols: [PROTOCOL, `token.${token}`] };
  }

  #onSocketState(state: ConnectionState): void {
    if (state.kind === 'open') {
      // The WebSocket is open; the session is not until `welcome` arrives.
      this.#session += 1;
      this.#welcomed = false;
      this.#setState({ kind: 'connecting', attempt: this.#state.kind === 'connecting' ? this.#state.attempt : 1 });
      return;
    }
    this.#welcomed = false;
    this.#resumePending.clear();
    this.#clearRetryTimer();
    for (const r of this.#rooms.values()) {
      if (r.joinId !== null) this.#joinIds.delete(r.joinId);
      r.joinId = null;
    }
    for (const [room, list] of this.#leaves) {
      this.#leaves.delete(room);
      for (const resolve of list) resolve();
    }
    if (state.kind === 'closed' && !this.#disconnecting) {
      this.#failEverything(new ChatError('stopped', state.reason));
    }
    this.#setState(state);
  }

  #onMessage(data: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch (_error) {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    switch (message.type) {
      case 'welcome':
        this.#onWelcome(message);
        break;
      case 'joined':
        this.#onJoined(message);
        break;
      case 'left':
        this.#onLeft(message.room);
        break;
      case 'chat':
        if (this.#accept(message.room, message.id, message.offset, message.from.id, message.clientId)) this.emit('message', message);
        break;
      case 'dm':
        if (this.#accept(message.room, message.id, message.offset, message.from.id, message.clientId)) this.emit('dm', message);
        break;
      case 'presence':
        this.#onPresence(message);
        break;
      case 'ack': {
        const result: SendResult = { id: message.id, offset: message.offset, duplicate: message.duplicate === true };
        if (this.#outbox.ack(message.id, result)) this.emit('ack', result);
        break;
      }
      case 'error':
        this.#onError(message);
        break;
      default:
        break; // pong, and types from a newer server: already counted as signs of life
    }
  }

  #onWelcome(welcome: WelcomeMessage): void {
    this.#welcome = welcome;
    if (welcome.heartbeatMs > 0) {
      // docs/protocol.md: "a client that hears nothing for about twice that should send `ping` and, if no `pong`
      // comes, reconnect."
      this.#socket.setHeartbeatInterval(welcome.heartbeatMs * 2, Math.max(welcome.heartbeatMs, 2_000));
    }
    const previous = this.#user;
    this.#user = welcome.user;
    if (this.#welcomed) {
      this.emit('welcome', welcome);
      return; // an answer to `hello`: nothing to resume
    }
    this.#welcomed = true;
    const inboxName = INBOX_PREFIX + welcome.user.id;
    if (previous !== null && previous.id !== welcome.user.id) this.#rooms.delete(INBOX_PREFIX + previous.id);
    if (!this.#rooms.has(inboxName)) this.#rooms.set(inboxName, newRoom(true));
    this.#setState({ kind: 'open' });
    this.emit('welcome', welcome);
    for (const [room, r] of this.#rooms) {
      const resuming = r.offset >= 0;
      if (!resuming && r.inbox && this.#options.history === false) continue;
      this.#sendJoin(room, r, resuming);
      this.#resumePending.add(room);
    }
    this.#flush();
  }

  #sendJoin(room: string, r: RoomState, resuming: boolean): void {
    const id = this.#createId();
    r.joinId = id;
    r.resuming = resuming;
    this.#joinIds.set(id, room);
    const message: { type: 'join'; id: string; room: string; since?: number; epoch?: string } = { type: 'join', id, room };
    if (r.offset >= 0) message.since = r.offset;
    else if (this.#options.history !== false) message.since = 0;
    if (r.epoch !== undefined) message.epoch = r.epoch;
    this.#socket.send(JSON.stringify(message));
  }

  #onJoined(joined: JoinedMessage): void {
    const r = this.#rooms.get(joined.room);
    if (r === undefined) return; // left meanwhile
    if (r.joinId !== null) this.#joinIds.delete(r.joinId);
    r.joinId = null;
    // docs/protocol.md: "exactly `replay.count` history messages follow (offsets `replay.from` ... `offset`, in order),
    // then live messages (offsets above `offset`)". So the next message to deliver is `from` (or above `offset`).
    // With `epochChanged` "its `since` meant nothing, so the server replays the whole retained history of the new
    // epoch": offsets restart, so the offset filter restarts too; message ids stay unique across epochs.
    const next = joined.replay.count > 0 ? joined.replay.from - 1 : joined.offset;
    const sameEpoch = r.epoch === joined.epoch && !joined.replay.epochChanged;
    r.offset = sameEpoch && r.offset >= 0 ? r.offset : next;
    r.epoch = joined.epoch;
    r.members = new Map(joined.members.map((m) => [m.user.id, m]));
    const { type: _type, ...rest } = joined;
    const event: JoinedEvent = { ...rest, resumed: r.resuming };
    const waiters = r.waiters;
    r.waiters = [];
    this.emit('joined', event);
    this.emit('members', { room: joined.room, members: [...r.members.values()] });
    for (const w of waiters) w.resolve(event);
    if (this.#resumePending.delete(joined.room) && this.#resumePending.size === 0) this.#flush();
  }

  #onLeft(room: string): void {
    const list = this.#leaves.get(room);
    this.#leaves.delete(room);
    for (const resolve of list ?? []) resolve();
    this.emit('left', { room });
  }

  #onPresence(presence: PresenceMessage): void {
    const r = this.#rooms.get(presence.room);
    if (r === undefined) return;
    if (presence.event === 'join') r.members.set(presence.user.id, { user: presence.user, connections: Math.max(1, presence.connections) });
    else r.members.delete(presence.user.id);
    this.emit('presence', presence);
    this.emit('members', { room: presence.room, members: [...r.members.values()] });
  }

  #onError(error: ErrorMessage): void {
    const id = error.id;
    const chatError = new ChatError(error.code, error.message, {
      ...(id !== undefined ? { id } : {}),
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    });
    if (id !== undefined && this.#outbox.has(id)) {
      if (error.code === 'rate_limited') {
        // Not refused for good: send it again once the server says it would accept it.
        const entry = this.#outbox.entries().find((e) => e.id === id);
        if (entry !== undefined) entry.sentOn = -1;
        this.#scheduleRetry(error.retryAfterMs ?? 1_000);
        return;
      }
      this.#outbox.fail(id, chatError);
      return;
    }
    const room = id !== undefined ? this.#joinIds.get(id) : undefined;
    if (id !== undefined && room !== undefined) {
      // A refused join: the room is dropped (its promise rejects); the inbox stays, fed by live DMs.
      this.#joinIds.delete(id);
      const r = this.#rooms.get(room);
      let handled = false;
      if (r !== undefined && r.joinId === id) {
        r.joinId = null;
        if (!r.inbox) {
          this.#rooms.delete(room);
          handled = r.waiters.length > 0;
          for (const w of r.waiters) w.reject(chatError);
          r.waiters = [];
        }
      }
      if (this.#resumePending.delete(room) && this.#resumePending.size === 0) this.#flush();
      if (handled) return;
    }
    this.emit('error', chatError);
  }

  /**
   * Duplicate filter: true when the message is new for the application (and records it as seen). Three keys, any of
   * which marks a duplicate: the offset within the room's epoch, the server message id, and the sender's client id
   * (unique per user: docs/protocol.md). The last one catches a message a restarted server accepted a second time
   * because its duplicate-suppression memory was lost with the process.
   */
  #accept(room: string, id: string, offset: number, senderId: string, clientId: string | undefined): boolean {
    const r = this.#rooms.get(room);
    if (r === undefined) return false;
    if (r.offset >= 0 && offset <= r.offset) return false;
    r.offset = offset;
    const senderKey = clientId === undefined ? undefined : `${senderId}\n${clientId}`;
    if (this.#seen.has(id) || (senderKey !== undefined && this.#seen.has(senderKey))) return false;
    this.#remember(id);
    if (senderKey !== undefined) this.#remember(senderKey);
    return true;
  }

  #remember(key: string): void {
    this.#seen.add(key);
    if (this.#seen.size > this.#seenLimit) {
      // A Set iterates in insertion order: drop the oldest key.
      this.#seen.delete(this.#seen.values().next().value as string);
    }
  }

  /** Sends the outbox entries not yet sent on this connection, once the rooms are resumed. */
  #flush(): void {
    if (!this.#welcomed || this.#resumePending.size > 0 || this.#flushing) return;
    this.#flushing = true;
    try {
      for (const entry of this.#outbox.toSend(this.#session)) {
        if (!this.#socket.send(entry.data)) {
          entry.sentOn = -1;
          break;
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #scheduleRetry(ms: number): void {
    if (this.#retryTimer !== null) return;
    const clock = this.#options.clock;
    const run = (): void => {
      this.#retryTimer = null;
      this.#flush();
    };
    this.#retryTimer = clock !== undefined ? clock.setTimeout(run, ms) : setTimeout(run, ms);
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer === null) return;
    const clock = this.#options.clock;
    if (clock !== undefined) clock.clearTimeout(this.#retryTimer);
    else clearTimeout(this.#retryTimer as ReturnType<typeof setTimeout>);
    this.#retryTimer = null;
  }

  #emitOverflow(meta: PendingMessage, error: OutboxFullError): void {
    this.emit('error', new ChatError('outbox_full', error.message, { id: meta.id, cause: error }));
  }

  #failEverything(error: ChatError): void {
    this.#outbox.failAll(error);
    for (const r of this.#rooms.values()) {
      const waiters = r.waiters;
      r.waiters = [];
      for (const w of waiters) w.reject(error);
    }
  }

  #setState(state: ChatState): void {
    this.#state = state;
    this.emit('state', state);
  }
}

function newRoom(inbox: boolean): RoomState {
  return { epoch: undefined, offset: -1, joinId: null, resuming: false, members: new Map(), waiters: [], inbox };
}

/** defaultIdFactory returns ids made of 96 random bits (crypto when present) and a counter: unique across tabs. */
function defaultIdFactory(): () => string {
  const bytes = new Uint8Array(12);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let prefix = '';
  for (const b of bytes) prefix += b.toString(16).padStart(2, '0');
  let counter = 0;
  return () => `${prefix}-${(++counter).toString(36)}`;
}
