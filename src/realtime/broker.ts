// The Broker interface: everything the hub shares with the world beyond this process. Three services, each shaped
// after the Redis feature that will implement it for scale-out (docs/brokers.md maps every method):
//   - publish/subscribe per channel (Redis Pub/Sub): live delivery to every node with members of a room;
//   - room history by offset, within an epoch (Redis Streams, or a sorted set scored by offset): resume and replay;
//   - presence records that expire (a sorted set scored by expiry time): who is in a room across nodes, and
//     self-cleaning when a node dies;
//   - remembered keys that expire (`SET NX PX`), also claimed atomically with an append (`dedupKey`): duplicate
//     suppression of resent client messages across nodes;
//   - a resync signal (`onResync`): live payloads may have been lost (a dropped subscription), so the hub re-reads
//     history for its rooms.
// It does not know sockets, messages or users: payloads are opaque strings/bytes, keys are strings.

/** ChannelListener receives one published payload, exactly as it was published. */
export type ChannelListener = (data: string | Uint8Array) => void;

/** Subscription is a live subscription to a channel; `unsubscribe` ends it. */
export interface Subscription {
  unsubscribe(): Promise<void>;
}

/** HistoryEntry is one stored record with the offset the room's history gave it. */
export interface HistoryEntry {
  offset: number;
  record: string;
}

/** HistoryPage is the result of a history read: a consistent snapshot of the room's offsets and entries. */
export interface HistoryPage {
  /** The epoch the offsets belong to. */
  epoch: string;
  /** The latest offset of the room (0 when nothing was ever appended in this epoch). */
  latest: number;
  /** The oldest offset still retained (`latest + 1` when nothing is retained). */
  first: number;
  /** Entries with offsets after the requested one, oldest first, at most `limit`. */
  entries: HistoryEntry[];
}

/** PresenceRecord is one presence entry of a room (the hub keys them by connection and stores the user as value). */
export interface PresenceRecord {
  key: string;
  value: string;
}

/** AppendOptions makes an append idempotent per client message (duplicate suppression across nodes and resends). */
export interface AppendOptions {
  /**
   * Claimed atomically with the append: when `dedupKey` is already held (an earlier append with it ran, even one whose
   * reply was lost), nothing is stored and the append resolves to the offset stored the first time, `duplicate: true`.
   * It shares the keyspace of `remember`.
   */
  dedupKey: string;
  /** How long the claim is kept, in milliseconds. */
  ttlMs: number;
}

/** AppendResult is the offset a record was stored at (or, for a duplicate, had been stored at the first time). */
export interface AppendResult {
  offset: number;
  epoch: string;
  /** True when `dedupKey` was already claimed: nothing was stored now. */
  duplicate?: boolean;
}

/** ResyncInfo tells why a resync is needed. */
export interface ResyncInfo {
  /** Stored history was lost meanwhile (a new epoch): offsets restarted, nothing can be replayed across. */
  epochChanged: boolean;
}

/** Broker is the hub's link to other nodes and to storage; every method may be asynchronous (a network round trip). */
export interface Broker {
  /**
   * epoch identifies the history store's current life: it changes when stored history is lost (an in-memory
   * broker's restart, a flushed Redis). Offsets are only comparable within one epoch.
   */
  readonly epoch: string;
  /** publish delivers `data` to every subscriber of `channel` on every node, in publish order per publisher. */
  publish(channel: string, data: string | Uint8Array): Promise<void>;
  /** subscribe calls `listener` for every payload published on `channel` from now on (active once resolved). */
  subscribe(channel: string, listener: ChannelListener): Promise<Subscription>;
  /**
   * append stores `record` as the next message of `room`'s history and resolves to its offset (1, 2, 3, ...). With
   * `options.dedupKey` it is idempotent: claim and append are one atomic step, and a repeated key stores nothing and
   * resolves to the first offset with `duplicate: true`.
   */
  append(room: string, record: string, options?: AppendOptions): Promise<AppendResult>;
  /** read returns up to `limit` entries of `room` with offsets greater than `after` (a consistent snapshot). */
  read(room: string, options: { after: number; limit: number }): Promise<HistoryPage>;
  /** setPresence creates or refreshes `key` in `room`'s presence; it expires `ttlMs` later unless refreshed. */
  setPresence(room: string, key: string, value: string, ttlMs: number): Promise<void>;
  /** deletePresence removes `key` from `room`'s presence. */
  deletePresence(room: string, key: string): Promise<void>;
  /** listPresence returns the unexpired presence records of `room`. */
  listPresence(room: string): Promise<PresenceRecord[]>;
  /**
   * remember stores `value` under `key` for `ttlMs` and resolves to null; when `key` already holds an unexpired value
   * it keeps that one and resolves to it, unless `replace` is set (then it overwrites and resolves to null). The hub
   * uses it for duplicate suppression across nodes (client message ids).
   */
  remember(key: string, value: string, ttlMs: number, options?: { replace?: boolean }): Promise<string | null>;
  /** forget deletes `key`. */
  forget(key: string): Promise<void>;
  /**
   * onResync registers `listener` for the moments when payloads published meanwhile may not have reached this node's
   * subscriptions (a broker that lost and regained its Pub/Sub connection); it returns a function that unregisters it.
   * Optional: a broker that cannot lose payloads (the in-memory one) does not implement it.
   */
  onResync?(listener: (info: ResyncInfo) => void): () => void;
  /** close releases the broker's resources; subscriptions end. */
  close(): Promise<void>;
}
