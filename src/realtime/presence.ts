// Presence: who is in a room, as users with connection counts, kept in the broker's expiring presence records (one
// record per connection, keyed by connection id, valued with the user) so that every node sees the same members and a
// dead node's records expire. A user enters a room with its first connection and leaves with its last. Inbox rooms
// have no presence. It does not send anything: the hub turns transitions into `presence` messages.
import type { Broker } from './broker.js';
import type { Member, UserRef } from './messages.js';
import type { Peer } from './peer.js';

/** Presence keeps per-room presence records in a broker. */
export class Presence {
  readonly #broker: Broker;
  readonly #ttlMs: number;
  /** Parsed presence values by their JSON text: a big room lists thousands of records per join. */
  readonly #parsed = new Map<string, UserRef>();

  /** Creates a presence tracker whose records expire `ttlMs` after their last refresh. */
  constructor(options: { broker: Broker; ttlMs: number }) {
    this.#broker = options.broker;
    this.#ttlMs = options.ttlMs;
  }

  /** ttlMs is how long a record lives without a refresh. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** enter records `peer` in `room` and returns the members and whether this made its user present (first connection). */
  async enter(room: string, peer: Peer): Promise<{ members: Member[]; entered: boolean }> {
    await this.#broker.setPresence(room, peer.id, JSON.stringify(peer.user), this.#ttlMs);
    const members = await this.members(room);
    const mine = members.find((m) => m.user.id === peer.user.id);
    return { members, entered: mine !== undefined && mine.connections === 1 };
  }

  /** exit removes `peer` from `room` and returns true when its user has no connection left there. */
  async exit(room: string, peer: Peer): Promise<boolean> {
    await this.#broker.deletePresence(room, peer.id);
    const members = await this.members(room);
    return !members.some((m) => m.user.id === peer.user.id);
  }

  /** refresh extends the records of `peer` in `room`. */
  refresh(room: string, peer: Peer): Promise<void> {
    return this.#broker.setPresence(room, peer.id, JSON.stringify(peer.user), this.#ttlMs);
  }

  /** members lists the users present in `room` with their connection counts. */
  async members(room: string): Promise<Member[]> {
    const records = await this.#broker.listPresence(room);
    const byUser = new Map<string, Member>();
    for (const record of records) {
      let user = this.#parsed.get(record.value);
      if (user === undefined) {
        try {
          user = JSON.parse(record.value) as UserRef;
        } catch {
          continue;
        }
        if (this.#parsed.size >= 10_000) this.#parsed.clear();
        this.#parsed.set(record.value, user);
      }
      const member = byUser.get(user.id);
      if (member === undefined) byUser.set(user.id, { user, connections: 1 });
      else member.connections += 1;
    }
    return [...byUser.values()];
  }
}
