// MemoryBroker: the embedded Broker for a single process. Pub/Sub is a synchronous fan-out to local listeners,
// history is a ring buffer per room (history.ts), presence records expire lazily when listed.
// Its epoch is random per instance: a restart loses the history, so clients resuming with an old offset are told.
// It does not talk to other processes (brokers/redis does) and does not cap the number of rooms (see docs/limits.md).
import type { AppendOptions, AppendResult, Broker, ChannelListener, HistoryPage, PresenceRecord, Subscription } from '../broker.js';
import { RoomHistory } from '../history.js';

/** MemoryBrokerOptions configures a MemoryBroker. */
export interface MemoryBrokerOptions {
  /** Messages retained per room. Default 1000. */
  historyLimit?: number;
  /** The epoch; default a random id (a new one per instance). */
  epoch?: string;
  /** Clock for presence expiry. Default `Date.now`. */
  now?: () => number;
}

/** Remembered keys kept at most (duplicate-suppression ids of all users); the oldest go first beyond it. */
const MAX_REMEMBERED = 200_000;

interface PresenceEntry {
  value: string;
  expiresAt: number;
}

function randomEpoch(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** MemoryBroker implements Broker inside one process (the default of `hayate serve`). */
export class MemoryBroker implements Broker {
  readonly epoch: string;
  readonly #historyLimit: number;
  readonly #now: () => number;
  readonly #channels = new Map<string, Set<ChannelListener>>();
  readonly #histories = new Map<string, RoomHistory>();
  readonly #presence = new Map<string, Map<string, PresenceEntry>>();
  readonly #remembered = new Map<string, PresenceEntry>();
  #closed = false;

  /** Creates an empty broker. */
  constructor(options: MemoryBrokerOptions = {}) {
    this.#historyLimit = options.historyLimit ?? 1000;
    this.#now = options.now ?? Date.now;
    this.epoch = options.epoch ?? randomEpoch();
  }

  /** publish calls every listener of `channel` synchronously, in subscription order; a throwing listener is skipped. */
  publish(channel: string, data: string | Uint8Array): Promise<void> {
    const listeners = this.#channels.get(channel);
    if (listeners !== undefined) {
      for (const listener of listeners) {
        try {
          listener(data);
        } catch {
          // A listener's failure is its own; the others still get the message.
        }
      }
    }
    return Promise.resolve();
  }

  /** subscribe adds `listener` to `channel`; it is active as soon as this returns. */
  subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    let listeners = this.#channels.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.#channels.set(channel, listeners);
    }
    listeners.add(listener);
    const channels = this.#channels;
    return Promise.resolve({
      unsubscribe(): Promise<void> {
        const set = channels.get(channel);
        if (set !== undefined && set.delete(listener) && set.size === 0) channels.delete(channel);
        return Promise.resolve();
      },
    });
  }

  /**
   * append stores `record` in `room`'s ring buffer and resolves to its offset; with `dedupKey` already remembered
   * (with an offset) it stores nothing and resolves to that offset (claim and append are one synchronous step here).
   */
  append(room: string, record: string, options?: AppendOptions): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error('broker closed'));
    const now = this.#now();
    if (options !== undefined) {
      const prior = this.#remembered.get(options.dedupKey);
      // An empty value is a bare `remember` claim without an outcome: nothing to answer with, so the append runs.
      if (prior !== undefined && prior.expiresAt > now && prior.value !== '') {
        return Promise.resolve({ offset: Number(prior.value), epoch: this.epoch, duplicate: true });
      }
    }
    let history = this.#histories.get(room);
    if (history === undefined) {
      history = new RoomHistory(this.#historyLimit);
      this.#histories.set(room, history);
    }
    const offset = history.append(record);
    if (options !== undefined) this.#keep(options.dedupKey, String(offset), options.ttlMs, now);
    return Promise.resolve({ offset, epoch: this.epoch });
  }

  /** read returns the retained entries of `room` after `after`. */
  read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
    const history = this.#histories.get(room);
    if (history === undefined) return Promise.resolve({ epoch: this.epoch, latest: 0, first: 1, entries: [] });
    return Promise.resolve({
      epoch: this.epoch,
      latest: history.latest,
      first: history.first,
      entries: history.read(options.after, options.limit),
    });
  }

  /** setPresence stores `key` in `room` until `ttlMs` from now. */
  setPresence(room: string, key: string, value: string, ttlMs: number): Promise<void> {
    let records = this.#presence.get(room);
    if (records === undefined) {
      records = new Map();
      this.#presence.set(room, records);
    }
    records.set(key, { value, expiresAt: this.#now() + ttlMs });
    return Promise.resolve();
  }

  /** deletePresence removes `key` from `room`. */
  deletePresence(room: string, key: string): Promise<void> {
    const records = this.#presence.get(room);
    if (records !== undefined && records.delete(key) && records.size === 0) this.#presence.delete(room);
    return Promise.resolve();
  }

  /** listPresence returns `room`'s unexpired records, dropping expired ones. */
  listPresence(room: string): Promise<PresenceRecord[]> {
    const records = this.#presence.get(room);
    if (records === undefined) return Promise.resolve([]);
    const now = this.#now();
    const out: PresenceRecord[] = [];
    for (const [key, entry] of records) {
      if (entry.expiresAt <= now) records.delete(key);
      else out.push({ key, value: entry.value });
    }
    if (records.size === 0) this.#presence.delete(room);
    return Promise.resolve(out);
  }

  /** remember keeps `value` under `key` for `ttlMs` unless an unexpired value is there (then resolves to it). */
  remember(key: string, value: string, ttlMs: number, options: { replace?: boolean } = {}): Promise<string | null> {
    const now = this.#now();
    const existing = this.#remembered.get(key);
    if (existing !== undefined && existing.expiresAt > now && options.replace !== true) return Promise.resolve(existing.value);
    this.#keep(key, value, ttlMs, now);
    return Promise.resolve(null);
  }

  /** Stores `key` as the newest remembered key, pruning beyond the bound. */
  #keep(key: string, value: string, ttlMs: number, now: number): void {
    this.#remembered.delete(key);
    this.#remembered.set(key, { value, expiresAt: now + ttlMs });
    if (this.#remembered.size > MAX_REMEMBERED) this.#prune(now);
  }

  /** forget deletes `key`. */
  forget(key: string): Promise<void> {
    this.#remembered.delete(key);
    return Promise.resolve();
  }

  /** Drops expired keys, then the oldest ones while over the bound. */
  #prune(now: number): void {
    for (const [key, entry] of this.#remembered) if (entry.expiresAt <= now) this.#remembered.delete(key);
    for (const key of this.#remembered.keys()) {
      if (this.#remembered.size <= MAX_REMEMBERED * 0.9) break;
      this.#remembered.delete(key);
    }
  }

  /** close drops every subscription; later appends fail. */
  close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    return Promise.resolve();
  }
}
