// Hub: the realtime server's core. It takes authenticated connections (Socket + identity), validates every client
// message against the schemas of messages.ts, and implements rooms, direct messages through per-user inbox rooms,
// presence, history replay by offset within an epoch, duplicate suppression, rate limits, error budgets and the
// slow-consumer policy (docs/protocol.md, docs/limits.md). Live delivery goes through the Broker: a message is stored,
// published once, and each node writes the same prepared bytes to all its members of the room. Per room, the hub
// remembers the last offset it delivered: a live message that skips offsets (a payload lost by Pub/Sub, or two nodes'
// publishes that crossed) or a broker's resync signal makes it re-read history after that offset and deliver what was
// missed, in offset order, holding the room's live messages meanwhile (room-order.ts).
// It does not know HTTP, frames or Redis: the composition (src/cli/chat-server.ts) authenticates handshakes, hands in
// `prepare`, and owns the transport's heartbeats.
import pLimit from 'p-limit';
import type { AppendOptions, Broker, HistoryPage, ResyncInfo } from './broker.js';
import { decodeBinaryEnvelope } from './binary-envelope.js';
import { parseClientMessage } from './client-message.js';
import { offsetOf, withOffset } from './history.js';
import { resolveHubLimits, type Admission, type ConnectionIdentity, type ResolvedHubLimits, type HubLogger, type HubObserver, type HubOptions } from './hub-options.js';
import {
  AppCloseCode, INBOX_PREFIX, conversationId, inboxRoom,
  type ChatSendMessage, type ClientMessage, type DmSendMessage, type ErrorCode, type JoinMessage, type JoinedMessage,
  type LeaveMessage, type Member, type UserRef,
} from './messages.js';
import { Peer, type UserState } from './peer.js';
import { Presence } from './presence.js';
import { TokenBucket } from './rate-limit.js';
import { RecentIds, type RecentIdsOptions } from './recent-ids.js';
import type { OrderedMessage } from './room-order.js';
import { Rooms, roomChannel, type RoomState } from './rooms.js';
import { identityPrepare, type PrepareFunction, type Socket } from './socket.js';

export type { Admission, ConnectionIdentity, HubLogger, HubObserver, HubOptions } from './hub-options.js';

const NOOP_LOGGER: HubLogger = { warn() {}, info() {}, debug() {}, error() {} };
const MAX_HELD = 10_000;
/** History reads a resync retries (100 ms doubling to 2 s apart, about 9 s in all) before its room's members resume. */
const RESYNC_READ_ATTEMPTS = 8;
/**
 * History reads of resyncs in flight at once. After a reconnect every room with local members resyncs, every user's
 * inbox included: thousands of reads, which must not all hit the broker in the same instant.
 */
const RESYNC_READS_AT_ONCE = 16;
const USER_STATE_IDLE_MS = 600_000;

/** Stored is the outcome of storing a client message: its offset, and whether it had been stored before. */
interface Stored {
  offset: number;
  duplicate: boolean;
}

function randomId(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  let out = '';
  for (const b of buffer) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Hub runs rooms, DMs, presence and history for connections handed to it with `addConnection`. */
export class Hub {
  readonly #broker: Broker;
  readonly #prepare: PrepareFunction;
  readonly #now: () => number;
  readonly #log: HubLogger;
  readonly #observer: HubObserver;
  readonly #rooms: Rooms;
  readonly #presence: Presence;
  readonly #o: ResolvedHubLimits;
  readonly #dedup: RecentIdsOptions;
  readonly #peers = new Set<Peer>();
  readonly #users = new Map<string, UserState>();
  readonly #perAddress = new Map<string, number>();
  readonly #watched = new Set<Peer>();
  readonly #nodeId = randomId(4);
  readonly #sweep: ReturnType<typeof setInterval>;
  #messageCounter = 0;
  #connectionCounter = 0;
  #nextExpiry = Infinity;
  #lastRefresh: number;
  #lastEviction: number;
  #closing = false;
  #drained: (() => void) | null = null;
  readonly #releasing = new Set<Promise<void>>();
  readonly #stopResync: () => void;
  readonly #resyncReads = pLimit(RESYNC_READS_AT_ONCE);

  /** Creates a hub over `options.broker` and starts its housekeeping timer (unref'd). */
  constructor(options: HubOptions) {
    this.#broker = options.broker;
    this.#prepare = options.prepare ?? identityPrepare;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? NOOP_LOGGER;
    this.#observer = options.observer ?? {};
    this.#dedup = options.dedup ?? {};
    this.#o = resolveHubLimits(options);
    this.#rooms = new Rooms({
      broker: this.#broker,
      deliver: (room, data) => this.#deliver(room, data),
      onError: (error) => this.#log.error({ err: error }, 'broker subscription failed'),
    });
    this.#presence = new Presence({ broker: this.#broker, ttlMs: this.#o.presenceTtlMs, now: this.#now });
    this.#lastRefresh = this.#lastEviction = this.#now();
    this.#sweep = setInterval(() => this.sweep(), this.#o.sweepIntervalMs);
    this.#sweep.unref();
    this.#stopResync = this.#broker.onResync?.((info) => this.#resyncAll(info)) ?? (() => {});
  }

  /** connections is the number of open connections. */
  get connections(): number {
    return this.#peers.size;
  }

  /** epoch is the broker's history epoch. */
  get epoch(): string {
    return this.#broker.epoch;
  }

  /** admit tells whether `userId` may open another connection from `address` (call it at the handshake). */
  admit(userId: string, address = 'unknown'): Admission {
    if (this.#closing) return { ok: false, status: 503, reason: 'server shutting down' };
    if ((this.#users.get(userId)?.peers.size ?? 0) >= this.#o.maxConnectionsPerUser) {
      return { ok: false, status: 429, reason: 'too many connections for this user' };
    }
    if ((this.#perAddress.get(address) ?? 0) >= this.#o.maxConnectionsPerIp) {
      return { ok: false, status: 429, reason: 'too many connections from this address' };
    }
    return { ok: true };
  }

  /** addConnection takes an open socket of an authenticated user, sends `welcome` and joins the user's inbox. */
  addConnection(socket: Socket, identity: ConnectionIdentity): void {
    const now = this.#now();
    const address = identity.address ?? 'unknown';
    const admission = this.admit(identity.user.id, address);
    if (!admission.ok) {
      socket.close(admission.status === 503 ? 1001 : 1013, admission.reason);
      return;
    }
    let state = this.#users.get(identity.user.id);
    if (state === undefined) {
      state = {
        user: identity.user, peers: new Set(), bucket: new TokenBucket(this.#o.userRate, now),
        recent: new RecentIds(this.#dedup), touchedAt: now,
      };
      this.#users.set(identity.user.id, state);
    }
    state.user = identity.user;
    state.touchedAt = now;
    const peer = new Peer({
      id: `${this.#nodeId}-${(++this.#connectionCounter).toString(36)}`,
      socket, state, address, inbox: inboxRoom(identity.user.id),
      bucket: new TokenBucket(this.#o.connectionRate, now),
      errorBudget: new TokenBucket(this.#o.errorBudget, now),
      expiresAt: identity.expiresAt ?? Infinity,
    });
    state.peers.add(peer);
    this.#peers.add(peer);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    if (peer.expiresAt < this.#nextExpiry) this.#nextExpiry = peer.expiresAt;
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#receive(peer, data, isBinary));
    socket.on('close', () => this.#closed(peer));
    socket.on('error', (error: Error) => this.#log.debug({ err: error, connection: peer.id }, 'socket error'));
    this.#observer.connectionOpened?.();
    this.#sendJson(peer, this.#welcome(peer));
    peer.rooms.add(peer.inbox);
    void this.#rooms.add(peer.inbox, peer);
  }

  /** close stops admitting, closes every connection with `code` (1001), waits up to `drainMs`, then terminates the rest. */
  async close(options: { code?: number; reason?: string; drainMs?: number } = {}): Promise<void> {
    this.#closing = true;
    const drainMs = options.drainMs ?? 5_000;
    for (const peer of this.#peers) this.#closePeer(peer, options.code ?? 1001, options.reason ?? 'server shutting down');
    if (this.#peers.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#drained = null;
    for (const peer of [...this.#peers]) {
      peer.socket.terminate();
      this.#closed(peer);
    }
    clearInterval(this.#sweep);
    this.#stopResync();
    // Leaving rooms talks to the broker: finish before the caller closes it.
    await Promise.all(this.#releasing);
    await this.#rooms.clear();
  }

  /** sweep runs one round of housekeeping: slow consumers, stuck closes, token expiry, presence refresh. */
  sweep(): void {
    const now = this.#now();
    for (const peer of this.#watched) {
      if (peer.closed) {
        this.#watched.delete(peer);
      } else if (peer.closingSince !== 0) {
        if (now - peer.closingSince >= this.#o.closeTimeoutMs) {
          this.#watched.delete(peer);
          peer.socket.terminate();
        }
      } else if (peer.socket.bufferedAmount <= this.#o.maxBufferedBytes) {
        peer.overSince = 0;
        this.#watched.delete(peer);
      } else if (now - peer.overSince >= this.#o.slowConsumerGraceMs) {
        this.#slowConsumer(peer);
      }
    }
    if (now >= this.#nextExpiry) {
      this.#nextExpiry = Infinity;
      for (const peer of this.#peers) {
        if (peer.expiresAt <= now) this.#closePeer(peer, AppCloseCode.Unauthorized, 'token expired');
        else if (peer.expiresAt < this.#nextExpiry) this.#nextExpiry = peer.expiresAt;
      }
    }
    if (now - this.#lastRefresh >= this.#o.presenceTtlMs / 3) {
      this.#lastRefresh = now;
      for (const peer of this.#peers) {
        for (const room of peer.rooms) {
          if (room !== peer.inbox && !peer.held.has(room)) {
            this.#presence.refresh(room, peer).catch((error: unknown) => this.#log.warn({ err: error }, 'presence refresh failed'));
          }
        }
      }
    }
    if (now - this.#lastEviction >= 60_000) {
      this.#lastEviction = now;
      const ttl = Math.max(this.#dedup.ttlMs ?? USER_STATE_IDLE_MS, 0);
      for (const [id, state] of this.#users) if (state.peers.size === 0 && now - state.touchedAt > ttl) this.#users.delete(id);
    }
  }

  // ---- sending ----------------------------------------------------------------------------------------------------

  #send(peer: Peer, data: string | Uint8Array | object): void {
    if (!peer.writable) return;
    peer.socket.send(data);
    this.#checkBuffered(peer);
  }

  #sendJson(peer: Peer, message: object): void {
    const text = JSON.stringify(message);
    this.#send(peer, text);
    this.#observer.messageOut?.(Buffer.byteLength(text), 1);
  }

  #checkBuffered(peer: Peer): void {
    const buffered = peer.socket.bufferedAmount;
    if (buffered <= this.#o.maxBufferedBytes) return;
    if (buffered > this.#o.hardMaxBufferedBytes) {
      this.#slowConsumer(peer);
    } else if (peer.overSince === 0) {
      peer.overSince = this.#now();
      this.#watched.add(peer);
    }
  }

  #slowConsumer(peer: Peer): void {
    this.#log.info({ connection: peer.id, user: peer.user.id, buffered: peer.socket.bufferedAmount }, 'slow consumer');
    this.#observer.slowConsumer?.();
    // RFC 6455 §7.4.1: 1013 is "Try Again Later"; the SDK reconnects with backoff and resumes by offset.
    this.#closePeer(peer, 1013, 'slow consumer');
  }

  #closePeer(peer: Peer, code: number, reason: string): void {
    if (!peer.writable) return;
    peer.closingSince = this.#now();
    this.#watched.add(peer);
    try {
      peer.socket.close(code, reason);
    } catch (error) {
      this.#log.debug({ err: error }, 'close failed');
      peer.socket.terminate();
    }
  }

  /** Delivers one live payload of `room`: in offset order (per room, not per member), or held for a resync. */
  #deliver(room: string, data: string | Uint8Array): void {
    const state = this.#rooms.state(room);
    if (state === undefined || state.members.size === 0) return;
    const offset = typeof data === 'string' ? offsetOf(data) : undefined;
    if (offset !== undefined) {
      const order = state.order;
      if (order.held !== null) {
        this.#hold(room, state, { data, offset });
        return;
      }
      const epoch = this.#broker.epoch;
      if (order.epoch !== epoch) {
        // The first message seen, or the broker moved to a new epoch: nothing to compare with, so no gap.
        order.baseline(epoch, offset);
      } else if (offset === order.last + 1) {
        order.last = offset;
      } else {
        // Offsets skipped (a payload lost) or not increasing (crossed publishes, or a new epoch the broker has not seen
        // yet): hold the room's live messages and let the resync sort it out.
        order.held = [];
        this.#hold(room, state, { data, offset });
        this.#resync(room, state, this.#o.resyncGraceMs);
        return;
      }
    }
    this.#fanout(room, state.members, data, offset);
  }

  /** Writes one payload to every member of a room (prepared once), holding it for members whose join is served. */
  #fanout(room: string, members: ReadonlySet<Peer>, data: string | Uint8Array, offset: number | undefined): void {
    const binary = typeof data !== 'string';
    let prepared: string | Uint8Array | object | undefined;
    let recipients = 0;
    for (const peer of members) {
      if (!peer.writable) continue;
      // Per recipient this loop is the hot path: look up held messages only for a member whose join is being served.
      if (peer.held.size !== 0) {
        const held = peer.held.get(room);
        if (held !== undefined) {
          if (held.length >= MAX_HELD) this.#slowConsumer(peer);
          else held.push({ data, offset });
          continue;
        }
      }
      // DESIGN.md, hot paths: serialise and frame once, write the same bytes to every member.
      prepared ??= this.#prepare(data, { binary });
      peer.socket.send(prepared);
      recipients += 1;
      if (peer.socket.bufferedAmount > this.#o.maxBufferedBytes) this.#checkBuffered(peer);
    }
    if (recipients > 0) this.#observer.messageOut?.(binary ? data.length : Buffer.byteLength(data), recipients);
  }

  // ---- resync: delivering what Pub/Sub lost -----------------------------------------------------------------------

  /** Holds a live message of a room under resync; beyond the bound the room's members are closed to resume. */
  #hold(room: string, state: RoomState, message: OrderedMessage): void {
    const held = state.order.held as OrderedMessage[];
    if (held.length < this.#o.maxHeldPerRoom) {
      held.push(message);
      return;
    }
    this.#abandonOrder(room, state, 'too many messages held during a resync');
  }

  /** Gives up ordering a room: its members are closed with 1012 and resume by offset (the SDK reconnects). */
  #abandonOrder(room: string, state: RoomState, why: string): void {
    this.#log.warn({ room, members: state.members.size }, `resync abandoned: ${why}`);
    this.#observer.resyncAbandoned?.();
    state.order.reset();
    for (const peer of [...state.members]) this.#closePeer(peer, 1012, 'resync');
  }

  /** The broker may have lost live payloads (its subscription dropped): resync every room with local members. */
  #resyncAll(info: ResyncInfo): void {
    for (const [room, state] of this.#rooms.states()) {
      if (info.epochChanged) {
        // Stored history is gone; nothing to replay across epochs (clients learn it when they resume). The next live
        // message sets the new baseline; a running resync sees the new epoch and releases what it held.
        state.order.epoch = undefined;
      } else {
        state.order.held ??= [];
        this.#resync(room, state, 0);
      }
    }
  }

  /** Starts the room's resync, or asks the running one to read history once more. */
  #resync(room: string, state: RoomState, graceMs: number): void {
    const order = state.order;
    if (order.running !== null) {
      if (graceMs === 0) order.again = true;
      return;
    }
    const generation = order.generation;
    this.#observer.resyncStarted?.();
    // `running` is cleared by the resync itself when it finishes (order.finish, in the same turn as its last
    // delivery) or by order.reset, so that a gap seen right after it starts a new one.
    order.running = this.#runResync(room, state, generation, graceMs).catch((error: unknown) => {
      this.#log.warn({ err: error, room }, 'resync failed');
      if (order.generation === generation && this.#rooms.state(room) === state) this.#abandonOrder(room, state, 'history unreadable');
    });
  }

  /**
   * Re-reads history after the room's last delivered offset and delivers the missed entries, then the held live
   * messages that follow without a gap; repeats while a gap remains (a message appended after the read, still in
   * flight) or another resync was asked for. Ends early when the room's order was abandoned or the room emptied.
   */
  async #runResync(room: string, state: RoomState, generation: number, graceMs: number): Promise<void> {
    const order = state.order;
    const current = (): boolean => order.generation === generation && this.#rooms.state(room) === state;
    let grace = graceMs;
    let failures = 0;
    for (;;) {
      if (grace > 0) {
        await new Promise<void>((resolve) => setTimeout(resolve, grace).unref());
        if (!current()) return;
        // Crossed publishes usually arrive within the grace period: when they fill the gap, no read is needed.
        this.#releaseHeld(room, state, order.takeContiguous(false));
        if ((order.held as OrderedMessage[]).length === 0 && !order.again) {
          order.finish();
          return;
        }
      }
      order.again = false;
      const after = order.last;
      let page: HistoryPage;
      try {
        page = await this.#resyncReads(() => this.#broker.read(room, { after, limit: this.#o.replayLimit }));
      } catch (error) {
        // The broker's command connection may come back later than its subscriber: retry before giving up.
        if (!current()) return;
        if (++failures >= RESYNC_READ_ATTEMPTS) throw error;
        this.#log.debug({ err: error, room }, 'resync read failed; retrying');
        grace = Math.min(100 * 2 ** (failures - 1), 2_000);
        continue;
      }
      if (!current()) return;
      if (order.epoch === undefined || page.epoch !== order.epoch) {
        // A new epoch (Redis lost its data): offsets restarted, so no replay; release what was held and start over.
        const held = order.takeAll();
        order.baseline(page.epoch, Math.max(page.latest, held.length > 0 ? held[held.length - 1].offset : 0));
        this.#releaseHeld(room, state, held);
        order.finish();
        return;
      }
      if (page.first > after + 1) {
        // The missed messages are no longer retained: members must learn it (truncated replay) when they resume.
        this.#abandonOrder(room, state, 'missed messages no longer in history');
        return;
      }
      for (const entry of page.entries) {
        if (entry.offset !== order.last + 1) continue;
        order.last = entry.offset;
        this.#fanout(room, state.members, withOffset(entry.record, entry.offset), entry.offset);
      }
      this.#releaseHeld(room, state, order.takeContiguous(true));
      if (order.last < page.latest && page.entries.length > 0) {
        grace = 0; // more history than one page
        continue;
      }
      if ((order.held as OrderedMessage[]).length === 0 && !order.again) {
        order.finish();
        return;
      }
      grace = order.again ? 0 : Math.max(this.#o.resyncGraceMs, 1);
    }
  }

  /** Delivers messages taken from a room's held list, in the order given. */
  #releaseHeld(room: string, state: RoomState, messages: OrderedMessage[]): void {
    for (const message of messages) this.#fanout(room, state.members, message.data, message.offset);
  }

  // ---- receiving --------------------------------------------------------------------------------------------------

  #receive(peer: Peer, data: Buffer, isBinary: boolean): void {
    if (!peer.writable) return;
    this.#observer.messageIn?.(data.length, isBinary);
    if (data.length > this.#o.maxMessageBytes) {
      this.#refuse(peer, 'too_large', `messages are at most ${this.#o.maxMessageBytes} bytes`);
      return;
    }
    if (isBinary) {
      this.#binary(peer, data);
      return;
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) {
      this.#refuse(peer, parsed.code, parsed.message, parsed.id);
      return;
    }
    const { message, id } = parsed;
    if (!this.#allow(peer, id)) return;
    if (peer.busy) {
      if (peer.backlog.length >= this.#o.maxBacklog) {
        this.#observer.policyViolation?.();
        this.#closePeer(peer, 1008, 'too many pending messages');
        return;
      }
      peer.backlog.push(message);
      return;
    }
    this.#run(peer, message);
  }

  /** Takes a token from the connection's and the user's buckets; refuses with `rate_limited` when either is empty. */
  #allow(peer: Peer, id: string | undefined): boolean {
    const now = this.#now();
    const connectionWait = peer.bucket.take(now);
    if (connectionWait === 0) {
      const userWait = peer.state.bucket.take(now);
      if (userWait === 0) return true;
      peer.bucket.giveBack();
      this.#refuse(peer, 'rate_limited', 'too many messages for this user', id, userWait);
      return false;
    }
    this.#refuse(peer, 'rate_limited', 'too many messages on this connection', id, connectionWait);
    return false;
  }

  #refuse(peer: Peer, code: ErrorCode, message: string, id?: string, retryAfterMs?: number): void {
    this.#observer.errorSent?.(code);
    const reply: Record<string, unknown> = { type: 'error', code, message };
    if (id !== undefined) reply.id = id;
    if (retryAfterMs !== undefined) reply.retryAfterMs = retryAfterMs;
    this.#sendJson(peer, reply);
    if (code !== 'internal_error' && peer.errorBudget.take(this.#now()) > 0) {
      this.#log.info({ connection: peer.id, user: peer.user.id, code }, 'closing abusive connection');
      this.#observer.policyViolation?.();
      this.#closePeer(peer, 1008, code === 'rate_limited' ? 'rate limit exceeded' : 'too many invalid messages');
    }
  }

  #run(peer: Peer, message: ClientMessage): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#handle(peer, message);
    } catch (error) {
      this.#failed(peer, message, error);
    }
    if (pending === undefined) return;
    peer.busy = true;
    pending
      .catch((error: unknown) => this.#failed(peer, message, error))
      .finally(() => {
        peer.busy = false;
        if (peer.closed) {
          this.#release(peer);
          return;
        }
        while (!peer.busy && peer.backlog.length > 0 && peer.writable) this.#run(peer, peer.backlog.shift() as ClientMessage);
      });
  }

  #failed(peer: Peer, message: ClientMessage, error: unknown): void {
    this.#log.error({ err: error, connection: peer.id, type: message.type }, 'message handling failed');
    this.#refuse(peer, 'internal_error', 'the server failed to process this message', message.id);
  }

  #handle(peer: Peer, message: ClientMessage): Promise<void> | undefined {
    switch (message.type) {
      case 'hello':
        this.#sendJson(peer, this.#welcome(peer));
        this.#ack(peer, message.id);
        return undefined;
      case 'ping':
        this.#sendJson(peer, message.id === undefined ? { type: 'pong', ts: this.#now() } : { type: 'pong', id: message.id, ts: this.#now() });
        this.#ack(peer, message.id);
        return undefined;
      case 'join':
        return this.#join(peer, message);
      case 'leave':
        return this.#leave(peer, message);
      case 'chat':
        return this.#chat(peer, message);
      case 'dm':
        return this.#dm(peer, message);
    }
  }

  #welcome(peer: Peer): object {
    return {
      type: 'welcome', connectionId: peer.id, user: peer.user, serverTime: this.#now(),
      heartbeatMs: this.#o.heartbeatMs, epoch: this.#broker.epoch,
    };
  }

  #ack(peer: Peer, id: string | undefined, offset?: number, duplicate?: boolean): void {
    if (id === undefined) return;
    const ack: Record<string, unknown> = { type: 'ack', id, ok: true };
    if (offset !== undefined) ack.offset = offset;
    if (duplicate === true) ack.duplicate = true;
    this.#sendJson(peer, ack);
  }

  // ---- rooms ------------------------------------------------------------------------------------------------------

  async #join(peer: Peer, message: JoinMessage): Promise<void> {
    const { room } = message;
    const inbox = room === peer.inbox;
    if (room.startsWith('@') && !inbox) {
      this.#refuse(peer, 'forbidden', room.startsWith(INBOX_PREFIX) ? 'another user\'s inbox' : 'room names starting with @ are reserved', message.id);
      return;
    }
    const wasMember = peer.rooms.has(room);
    peer.rooms.add(room);
    peer.held.set(room, []);
    await this.#rooms.add(room, peer);
    if (peer.closed) return;
    let members: Member[];
    let memberCount = 1;
    if (inbox) {
      members = [{ user: peer.user, connections: peer.state.peers.size }];
    } else {
      peer.present.add(room);
      const presence = await this.#presence.enter(room, peer, this.#o.maxMembersListed);
      members = presence.members;
      memberCount = presence.count;
      if (presence.entered && !wasMember && this.#rooms.members(room).size <= this.#o.presenceEventsUpTo) {
        await this.#publishPresence(room, 'join', peer.user, 1);
      }
      if (peer.closed) return;
    }
    // A resync of the room under way delivers missed messages to its members, this one's held list included: let it
    // finish first, so that the read below covers them and the held list drops them (no duplicate).
    for (let i = 0; i < 3; i++) {
      const running = this.#rooms.state(room)?.order.running;
      if (running === null || running === undefined) break;
      await running;
    }
    if (peer.closed) return;
    let epochChanged = message.since !== undefined && message.epoch !== undefined && message.epoch !== this.#broker.epoch;
    let since = message.since === undefined ? undefined : epochChanged ? 0 : message.since;
    const read = () => this.#broker.read(room, { after: since ?? Number.MAX_SAFE_INTEGER, limit: since === undefined ? 0 : this.#o.replayLimit });
    let page = await read();
    if (!epochChanged && since !== undefined && message.epoch !== undefined && page.epoch !== message.epoch) {
      // The store's epoch changed while this join was served (a broker that lost its data): start over at 0.
      epochChanged = true;
      since = 0;
      page = await read();
    }
    if (peer.closed) return;
    const order = this.#rooms.state(room)?.order;
    if (order !== undefined && order.epoch === undefined && order.held === null && page.epoch === this.#broker.epoch) {
      // The room's first local member: what this node delivers from now on must follow the latest offset read here.
      order.baseline(page.epoch, page.latest);
    }
    // A `since` beyond the latest offset can only come from another epoch (the client did not say which).
    const beyond = since !== undefined && since > page.latest;
    const entries = beyond ? [] : page.entries;
    const joined: JoinedMessage = {
      type: 'joined', room, members, memberCount, epoch: page.epoch, offset: page.latest,
      replay: {
        from: entries.length > 0 ? entries[0].offset : page.latest + 1,
        count: entries.length,
        truncated: since !== undefined && !beyond && since + 1 < page.first,
        epochChanged: epochChanged || beyond,
      },
    };
    this.#sendJson(peer, joined);
    for (const entry of entries) this.#send(peer, withOffset(entry.record, entry.offset));
    // Live messages held back during the replay: those already replayed (offset <= latest) are dropped.
    const held = peer.held.get(room) ?? [];
    peer.held.delete(room);
    for (const item of held) if (item.offset === undefined || item.offset > page.latest) this.#send(peer, item.data);
    this.#ack(peer, message.id);
  }

  async #leave(peer: Peer, message: LeaveMessage): Promise<void> {
    const { room } = message;
    if (room === peer.inbox) {
      this.#refuse(peer, 'forbidden', 'a connection cannot leave its own inbox', message.id);
      return;
    }
    if (!peer.rooms.has(room)) {
      this.#refuse(peer, 'not_in_room', `not in room ${room}`, message.id);
      return;
    }
    await this.#exit(peer, room);
    this.#sendJson(peer, { type: 'left', room });
    this.#ack(peer, message.id);
  }

  async #exit(peer: Peer, room: string): Promise<void> {
    peer.rooms.delete(room);
    peer.held.delete(room);
    this.#rooms.remove(room, peer);
    if (!peer.present.delete(room)) return;
    if ((await this.#presence.exit(room, peer)) && this.#rooms.members(room).size < this.#o.presenceEventsUpTo) {
      await this.#publishPresence(room, 'leave', peer.user, 0);
    }
  }

  #publishPresence(room: string, event: 'join' | 'leave', user: UserRef, connections: number): Promise<void> {
    return this.#broker.publish(roomChannel(room), JSON.stringify({ type: 'presence', room, event, user, connections }));
  }

  // ---- messages ---------------------------------------------------------------------------------------------------

  async #chat(peer: Peer, message: ChatSendMessage): Promise<void> {
    const { room } = message;
    if (!peer.rooms.has(room)) {
      this.#refuse(peer, 'not_in_room', `join ${room} before sending to it`, message.id);
      return;
    }
    if (room.startsWith('@')) {
      this.#refuse(peer, 'forbidden', 'send direct messages with dm', message.id);
      return;
    }
    await this.#once(peer, message.id, async (dedupKey) => {
      const record = JSON.stringify({
        type: 'chat', id: this.#messageId(), room, from: peer.user, text: message.text, ts: this.#now(), clientId: message.id,
      });
      return this.#store(room, record, dedupKey);
    });
  }

  async #dm(peer: Peer, message: DmSendMessage): Promise<void> {
    await this.#once(peer, message.id, async (dedupKey) => {
      const from = peer.user;
      const to: UserRef = this.#users.get(message.to)?.user ?? { id: message.to, name: message.to };
      const base = {
        id: this.#messageId(), conversation: conversationId(from.id, to.id), from, to, text: message.text,
        ts: this.#now(), clientId: message.id,
      };
      const target = await this.#store(inboxRoom(to.id), JSON.stringify({ type: 'dm', room: inboxRoom(to.id), ...base }), dedupKey);
      if (to.id === from.id) return target;
      // The sender's copy has its own key: a resend after a failure between the two appends stores only the missing one.
      const own = await this.#store(
        inboxRoom(from.id), JSON.stringify({ type: 'dm', room: inboxRoom(from.id), ...base }),
        dedupKey === undefined ? undefined : `${dedupKey}:sender`,
      );
      return { offset: own.offset, duplicate: target.duplicate && own.duplicate };
    });
  }

  /**
   * Runs `work` once per client message id, then acks it. Duplicates are recognised locally (RecentIds, the same
   * node) and by the broker (`work` passes the dedup key to `append`, which claims it atomically with the append, on
   * any node): they are acked again, with the first offset, and not delivered again. A message whose append ran but
   * whose reply was lost (answered internal_error) is thus stored once although the client resends it.
   */
  async #once(peer: Peer, id: string | undefined, work: (dedupKey: string | undefined) => Promise<Stored>): Promise<void> {
    if (id === undefined) {
      await work(undefined);
      return;
    }
    const now = this.#now();
    const recent = peer.state.recent;
    const seen = recent.get(id, now);
    if (seen !== undefined) {
      const offset = await seen;
      if (offset !== undefined) {
        this.#ack(peer, id, offset, true);
        return;
      }
    }
    const attempt = work(`seen:${peer.user.id}:${id}`);
    recent.remember(id, attempt.then((r) => r.offset, () => undefined), now);
    let outcome: Stored;
    try {
      outcome = await attempt;
    } catch (error) {
      recent.forget(id);
      throw error;
    }
    this.#ack(peer, id, outcome.offset, outcome.duplicate);
  }

  /**
   * Appends a record to a room's history (idempotent per `dedupKey`) and publishes the wire message. A duplicate's
   * stored record is published again: when the first append's reply was lost with the connection, nobody published
   * it, and in a room where nothing follows no gap would ever reveal it. Where it was delivered already, every node's
   * room order drops the repeated offset (after a history read that confirms it), so no member gets it twice.
   */
  async #store(room: string, record: string, dedupKey?: string): Promise<Stored> {
    const options: AppendOptions | undefined = dedupKey === undefined
      ? undefined
      : { dedupKey, ttlMs: this.#dedup.ttlMs ?? USER_STATE_IDLE_MS };
    const { offset, duplicate } = await this.#broker.append(room, record, options);
    if (duplicate === true) {
      const page = await this.#broker.read(room, { after: offset - 1, limit: 1 });
      const stored = page.entries[0];
      if (stored !== undefined && stored.offset === offset) await this.#broker.publish(roomChannel(room), withOffset(stored.record, offset));
      return { offset, duplicate: true };
    }
    await this.#broker.publish(roomChannel(room), withOffset(record, offset));
    return { offset, duplicate: false };
  }

  #messageId(): string {
    return `${this.#nodeId}.${(++this.#messageCounter).toString(36)}`;
  }

  #binary(peer: Peer, data: Buffer): void {
    const envelope = decodeBinaryEnvelope(data);
    if (envelope === null) {
      this.#refuse(peer, 'invalid_binary', 'unreadable binary envelope');
      return;
    }
    if (!peer.rooms.has(envelope.room) || envelope.room.startsWith('@')) {
      this.#refuse(peer, 'not_in_room', `join ${envelope.room} before sending to it`);
      return;
    }
    if (!this.#allow(peer, undefined)) return;
    // The frame is forwarded as received: same bytes, envelope included (docs/protocol.md, "Binary frames").
    this.#broker.publish(roomChannel(envelope.room), new Uint8Array(data.buffer, data.byteOffset, data.length))
      .catch((error: unknown) => this.#log.error({ err: error }, 'binary publish failed'));
  }

  // ---- closing ----------------------------------------------------------------------------------------------------

  #closed(peer: Peer): void {
    if (peer.closed) return;
    peer.closed = true;
    this.#watched.delete(peer);
    this.#peers.delete(peer);
    peer.state.peers.delete(peer);
    peer.state.touchedAt = this.#now();
    const left = (this.#perAddress.get(peer.address) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(peer.address);
    else this.#perAddress.set(peer.address, left);
    peer.backlog.length = 0;
    this.#observer.connectionClosed?.();
    if (!peer.busy) this.#release(peer);
    if (this.#peers.size === 0) this.#drained?.();
  }

  /** Leaves every room of a closed connection (after its in-flight message, if any, finished). */
  #release(peer: Peer): void {
    for (const room of [...peer.rooms]) {
      const done: Promise<void> = this.#exit(peer, room)
        .catch((error: unknown) => this.#log.warn({ err: error }, 'leaving room on close failed'))
        .finally(() => this.#releasing.delete(done));
      this.#releasing.add(done);
    }
  }
}
