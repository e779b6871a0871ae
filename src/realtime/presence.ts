// Presence: who is in a room, as users with connection counts, kept in the broker's expiring presence records (one
// record per connection, keyed by connection id, valued with the user) so that every node sees the same members and a
// dead node's records expire. A user enters a room with its first connection and leaves with its last. Inbox rooms
// have no presence. It does not send anything: the hub turns transitions into `presence` messages.
//
// Each room has a local view (connection → user, user → member) built from one listing of the broker's records and
// then kept up to date with this node's own enters and exits, and re-listed at most every `refreshMs` to pick up
// other nodes and expiries. So a join costs O(1) broker work plus one listing per room per `refreshMs`, not a listing
// of the whole room per join (which made filling a 10,000-member room quadratic).
import type { Broker } from './broker.js';
import type { Member, UserRef } from './messages.js';
import type { Peer } from './peer.js';

interface RoomView {
  /** connection key → user id */
  keys: Map<string, string>;
  /** user id → member (with its connection count) */
  users: Map<string, Member>;
  fetchedAt: number;
}

/** PresenceOptions configures a Presence tracker. */
export interface PresenceOptions {
  broker: Broker;
  /** Lifetime of a record without refresh, in milliseconds. */
  ttlMs: number;
  /** Longest a room's view goes without re-listing the broker, in milliseconds. Default 1000. */
  refreshMs?: number;
  /** Clock. Default `Date.now`. */
  now?: () => number;
}

/** Presence keeps per-room presence records in a broker and a local view of them. */
export class Presence {
  readonly #broker: Broker;
  readonly #ttlMs: number;
  readonly #refreshMs: number;
  readonly #now: () => number;
  readonly #views = new Map<string, RoomView>();
  /** Listings in flight, shared by every enter/exit that finds the view stale meanwhile. */
  readonly #listing = new Map<string, Promise<RoomView>>();
  /** Parsed presence values by their JSON text. */
  readonly #parsed = new Map<string, UserRef>();

  /** Creates a presence tracker. */
  constructor(options: PresenceOptions) {
    this.#broker = options.broker;
    this.#ttlMs = options.ttlMs;
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** ttlMs is how long a record lives without a refresh. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /**
   * enter records `peer` in `room` and returns up to `limit` members, the number of users present, and whether this
   * made its user present (its first connection there).
   */
  async enter(room: string, peer: Peer, limit = Infinity): Promise<{ members: Member[]; count: number; entered: boolean }> {
    await this.#broker.setPresence(room, peer.id, JSON.stringify(peer.user), this.#ttlMs);
    const view = await this.#view(room);
    add(view, peer.id, peer.user);
    const mine = view.users.get(peer.user.id);
    const members: Member[] = [];
    for (const member of view.users.values()) {
      if (members.length >= limit) break;
      members.push({ user: member.user, connections: member.connections });
    }
    return { members, count: view.users.size, entered: mine !== undefined && mine.connections === 1 };
  }

  /** exit removes `peer` from `room` and returns true when its user has no connection left there. */
  async exit(room: string, peer: Peer): Promise<boolean> {
    await this.#broker.deletePresence(room, peer.id);
    const view = await this.#view(room);
    remove(view, peer.id);
    const gone = !view.users.has(peer.user.id);
    if (view.keys.size === 0) this.#views.delete(room);
    return gone;
  }

  /** refresh extends the record of `peer` in `room`. */
  refresh(room: string, peer: Peer): Promise<void> {
    return this.#broker.setPresence(room, peer.id, JSON.stringify(peer.user), this.#ttlMs);
  }

  #view(room: string): Promise<RoomView> {
    const now = this.#now();
    const cached = this.#views.get(room);
    if (cached !== undefined && now - cached.fetchedAt < this.#refreshMs) return Promise.resolve(cached);
    let listing = this.#listing.get(room);
    if (listing === undefined) {
      listing = this.#list(room, now).finally(() => this.#listing.delete(room));
      this.#listing.set(room, listing);
    }
    return listing;
  }

  async #list(room: string, now: number): Promise<RoomView> {
    const records = await this.#broker.listPresence(room);
    const view: RoomView = { keys: new Map(), users: new Map(), fetchedAt: now };
    for (const record of records) {
      const user = this.#parse(record.value);
      if (user !== undefined) add(view, record.key, user);
    }
    // Every caller applies its own change to the view it gets back (add/remove are idempotent), and every caller that
    // arrived after the old view went stale waits for this listing, so no change of this node is lost.
    this.#views.set(room, view);
    return view;
  }

  #parse(value: string): UserRef | undefined {
    let user = this.#parsed.get(value);
    if (user === undefined) {
      try {
        user = JSON.parse(value) as UserRef;
      } catch {
        return undefined;
      }
      if (this.#parsed.size >= 10_000) this.#parsed.clear();
      this.#parsed.set(value, user);
    }
    return user;
  }
}

function add(view: RoomView, key: string, user: UserRef): void {
  if (view.keys.has(key)) return;
  view.keys.set(key, user.id);
  const member = view.users.get(user.id);
  if (member === undefined) view.users.set(user.id, { user, connections: 1 });
  else member.connections += 1;
}

function remove(view: RoomView, key: string): void {
  const userId = view.keys.get(key);
  if (userId === undefined) return;
  view.keys.delete(key);
  const member = view.users.get(userId);
  if (member === undefined) return;
  member.connections -= 1;
  if (member.connections <= 0) view.users.delete(userId);
}
