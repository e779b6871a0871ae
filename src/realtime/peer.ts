// Peer: the hub's state for one connection (one Socket) of one user: joined rooms, the live messages held back while a
// join's replay is being served, its rate limiters, the slow-consumer clock and the queue of client messages waiting
// for an earlier asynchronous one. Plain state; the hub decides what to do with it.
import type { RecentIds } from './recent-ids.js';
import type { TokenBucket } from './rate-limit.js';
import type { Socket } from './socket.js';
import type { ClientMessage, UserRef } from './messages.js';

/** HeldMessage is a live message held back for a room whose join is being served (offset when it has one). */
export interface HeldMessage {
  data: string | Uint8Array;
  offset: number | undefined;
}

/** UserState is shared by all connections of one user on this node (and outlives them for duplicate suppression). */
export interface UserState {
  user: UserRef;
  peers: Set<Peer>;
  bucket: TokenBucket;
  recent: RecentIds;
  /** Last time a connection of this user opened or closed (for evicting idle states). */
  touchedAt: number;
}

/** Peer is one connection as the hub tracks it. */
export class Peer {
  /** Connection id, unique per hub (sent in `welcome`). */
  readonly id: string;
  readonly socket: Socket;
  readonly state: UserState;
  readonly address: string;
  readonly inbox: string;
  /** Rooms joined (or being joined), the inbox included. */
  readonly rooms = new Set<string>();
  /** Rooms where this connection has a presence record (not the inbox). */
  readonly present = new Set<string>();
  /** Rooms whose join is being served, with the live messages held back meanwhile. */
  readonly held = new Map<string, HeldMessage[]>();
  /** Client messages received while an earlier one is still being processed, in order. */
  readonly backlog: ClientMessage[] = [];
  readonly bucket: TokenBucket;
  readonly errorBudget: TokenBucket;
  /** Token expiry, ms since the Unix epoch (Infinity when none). */
  readonly expiresAt: number;
  busy = false;
  /** The socket closed (or was dropped); no more sends. */
  closed = false;
  /** The hub started closing it (time, or 0). */
  closingSince = 0;
  /** When its send queue first went over the bound (0 when under it). */
  overSince = 0;

  /** Creates the state of a new connection. */
  constructor(init: {
    id: string;
    socket: Socket;
    state: UserState;
    address: string;
    inbox: string;
    bucket: TokenBucket;
    errorBudget: TokenBucket;
    expiresAt: number;
  }) {
    this.id = init.id;
    this.socket = init.socket;
    this.state = init.state;
    this.address = init.address;
    this.inbox = init.inbox;
    this.bucket = init.bucket;
    this.errorBudget = init.errorBudget;
    this.expiresAt = init.expiresAt;
  }

  /** user is the identity of the connection's user. */
  get user(): UserRef {
    return this.state.user;
  }

  /** writable is true while the hub may still send to the connection. */
  get writable(): boolean {
    return !this.closed && this.closingSince === 0;
  }
}
