// RedisBroker: the Broker over Redis through ioredis, so several hub processes form one service (docs/brokers.md maps
// every method). Pub/Sub carries live messages (one subscriber connection per node, binary-safe through
// `messageBuffer`), a Stream per room holds history with entry ids equal to offsets (`<offset>-0`, assigned atomically
// by a Lua script with INCR), and a sorted set scored by expiry time plus a hash hold presence records. The epoch lives
// in Redis (`SET NX`), so it survives node restarts and changes when Redis loses its data.
// Losing Redis: ioredis reconnects both connections by itself (and re-subscribes the subscriber); the broker re-reads
// the epoch after every reconnect. Commands fail fast while a connection is down (no offline queue, no resend of
// commands in flight: an append must not run twice). After `reconnectGiveUpMs` without Redis it stops and calls
// `onConnectionLost` once (`hayate serve` then exits for its supervisor). Live messages published while the
// subscriber was down are not replayed here: after a reconnect the broker tells its `onResync` listeners, and the hub
// re-reads the history of its rooms (docs/brokers.md). An append with a `dedupKey` claims the key in the same script,
// so a resend of an append whose reply was lost finds the first offset instead of storing the record twice.
// It does not speak to Redis Cluster (the history scripts read the global epoch key) and it does not know messages.
import { Redis } from 'ioredis';
import type {
  AppendOptions, AppendResult, Broker, ChannelListener, HistoryEntry, HistoryPage, PresenceRecord, ResyncInfo, Subscription,
} from '../broker.js';

/** RedisBrokerOptions configures a RedisBroker. */
export interface RedisBrokerOptions {
  /** Redis URL (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS). Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key and channel. Default `hayate:`. */
  prefix?: string;
  /** Messages retained per room (exact `MAXLEN`). Default 1000. */
  historyLimit?: number;
  /** Clock for presence expiry scores. Default `Date.now`. */
  now?: () => number;
  /** Connection name shown by `CLIENT LIST` (no spaces); the subscriber gets `<name>-sub`. Default `hayate`. */
  clientName?: string;
  /**
   * How long the broker keeps reconnecting to an unreachable Redis before it gives up, in milliseconds. Default 30000.
   * Shorter outages are survived (commands fail while they last).
   */
  reconnectGiveUpMs?: number;
  /**
   * Called once when the broker gives up on Redis (unreachable for `reconnectGiveUpMs`); the broker is then closed.
   * Default: nothing. `hayate serve` closes its connections with 1012 and exits, for a supervisor to restart it.
   */
  onConnectionLost?: (error: Error) => void;
  /**
   * Called after a lost connection came back (both connections ready, subscriptions restored, epoch re-read).
   * `epochChanged` is true when Redis lost its data meanwhile. Live messages published while the subscriber was down
   * were not delivered to this node. Default: nothing.
   */
  onReconnected?: (info: { epochChanged: boolean }) => void;
}

// Both history scripts refuse to run when the epoch key is not the one this node knows: Redis lost its data (or was
// replaced), so offsets restarted and must not be mixed with the old epoch's.
// With a dedup key (KEYS[4], ARGV[4] its TTL) the append is idempotent: an existing claim with an offset answers
// {offset, 1} and stores nothing; otherwise the record is stored and the key set to its offset, in the same script.
// An empty value is a bare `remember` claim without an outcome (nothing to answer with): the append runs.
const APPEND = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return redis.error_reply('EPOCH changed') end
if #KEYS > 3 then
  local prior = redis.call('GET', KEYS[4])
  if prior and prior ~= '' then return {tonumber(prior), 1} end
end
local offset = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'r', ARGV[1])
if #KEYS > 3 then redis.call('SET', KEYS[4], offset, 'PX', ARGV[4]) end
return {offset, 0}`;

const READ = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return redis.error_reply('EPOCH changed') end
local latest = tonumber(redis.call('GET', KEYS[1]) or '0')
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local first = latest + 1
if #head > 0 then first = tonumber(string.match(head[1][1], '^(%d+)')) end
local entries = {}
if tonumber(ARGV[2]) > 0 then entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2]) end
return {latest, first, entries}`;

const SET_PRESENCE = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`;

const DELETE_PRESENCE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`;

const LIST_PRESENCE = `
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
end
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
if #keys == 0 then return {} end
local values = redis.call('HMGET', KEYS[2], unpack(keys))
local out = {}
for i = 1, #keys do
  if values[i] then
    out[#out + 1] = keys[i]
    out[#out + 1] = values[i]
  end
end
return out`;

/** The Lua scripts as ioredis commands (`defineCommand`: EVALSHA, falling back to EVAL once per script). */
interface Scripts {
  hayateAppend(...keysThenArgs: Array<string | number>): Promise<[number, number]>;
  hayateRead(offsetKey: string, historyKey: string, epochKey: string, from: string, limit: number, epoch: string): Promise<[number, number, Array<[string, string[]]>]>;
  hayateSetPresence(zsetKey: string, hashKey: string, key: string, value: string, expiresAt: number, keyTtlMs: number): Promise<number>;
  hayateDeletePresence(zsetKey: string, hashKey: string, key: string): Promise<number>;
  hayateListPresence(zsetKey: string, hashKey: string, now: number): Promise<string[]>;
}

const SCRIPTS = {
  // The number of keys is the first argument of each call (3, or 4 with a dedup key).
  hayateAppend: { lua: APPEND },
  hayateRead: { lua: READ, numberOfKeys: 3 },
  hayateSetPresence: { lua: SET_PRESENCE, numberOfKeys: 2 },
  hayateDeletePresence: { lua: DELETE_PRESENCE, numberOfKeys: 2 },
  hayateListPresence: { lua: LIST_PRESENCE, numberOfKeys: 2 },
} as const;

const TEXT = 0x74; // 't': the payload after it is UTF-8 text
const BINARY = 0x62; // 'b': the payload after it is bytes

/** Reconnect delays: 50 ms doubling to at most 2 s, plus up to 100 ms of jitter so nodes do not reconnect in step. */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt - 1, 6), 2000) + Math.floor(Math.random() * 100);
}

function randomEpoch(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Resolves once `client` is ready, rejects on its first error before that. */
function ready(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      client.off('error', onError);
      resolve();
    };
    const onError = (error: Error): void => {
      client.off('ready', onReady);
      reject(error);
    };
    client.once('ready', onReady);
    client.once('error', onError);
  });
}

/** RedisBroker implements Broker over one Redis (two ioredis connections per node: commands and subscriptions). */
export class RedisBroker implements Broker {
  #epoch: string;
  readonly #commands: Redis & Scripts;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #historyLimit: number;
  readonly #now: () => number;
  readonly #options: RedisBrokerOptions;
  readonly #listeners = new Map<string, Set<ChannelListener>>();
  readonly #resyncListeners = new Set<(info: ResyncInfo) => void>();
  #closed = false;

  private constructor(commands: Redis & Scripts, subscriber: Redis, epoch: string, options: RedisBrokerOptions) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#epoch = epoch;
    this.#options = options;
    this.#prefix = options.prefix ?? 'hayate:';
    this.#historyLimit = options.historyLimit ?? 1000;
    this.#now = options.now ?? Date.now;
    subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => this.#dispatch(channel.toString(), payload));
    for (const client of [commands, subscriber]) {
      client.on('ready', () => {
        this.#reconnected().catch(() => undefined);
      });
      client.on('end', () => this.#giveUp(new Error('Redis unreachable; the broker stopped reconnecting')));
    }
  }

  /** connect opens both connections (waiting until ready) and reads (or creates) the epoch. */
  static async connect(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const prefix = options.prefix ?? 'hayate:';
    const name = options.clientName ?? 'hayate';
    const giveUpMs = options.reconnectGiveUpMs ?? 30_000;
    const downSince = new Map<Redis, number>();
    const retryStrategy = (client: () => Redis) => (attempt: number): number | null => {
      const now = Date.now();
      if (attempt === 1) downSince.set(client(), now);
      return now - (downSince.get(client()) ?? now) >= giveUpMs ? null : reconnectDelay(attempt);
    };
    let subscriber: Redis | undefined;
    const base = {
      connectionName: name,
      // Fail fast, bounded: no offline queue while disconnected, and commands in flight when a connection drops fail
      // instead of being resent (a resent append could store a message twice).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      lazyConnect: true,
    };
    const commands: Redis = new Redis(url, { ...base, retryStrategy: retryStrategy(() => commands) });
    // Until the broker exists, errors are reported by connect's promise; afterwards ioredis retries quietly.
    let lastError: Error | undefined;
    const quiet = (error: Error): void => {
      lastError = error;
    };
    commands.on('error', quiet);
    try {
      await commands.connect();
      subscriber = commands.duplicate({ connectionName: `${name}-sub`, retryStrategy: retryStrategy(() => subscriber as Redis) });
      subscriber.on('error', quiet);
      await subscriber.connect();
      await Promise.all([ready(commands), ready(subscriber)]);
      for (const [command, definition] of Object.entries(SCRIPTS)) commands.defineCommand(command, definition);
      await commands.set(`${prefix}epoch`, randomEpoch(), 'NX');
      const epoch = await commands.get(`${prefix}epoch`);
      if (epoch === null) throw new Error('the epoch key vanished while connecting');
      return new RedisBroker(commands as Redis & Scripts, subscriber, epoch, options);
    } catch (error) {
      commands.disconnect();
      subscriber?.disconnect();
      // ioredis rejects with "Connection is closed."; the socket's error (ECONNREFUSED, auth) says why.
      throw lastError ?? error;
    }
  }

  /** epoch is the history epoch stored in Redis (re-read after every reconnect and when a script reports another). */
  get epoch(): string {
    return this.#epoch;
  }

  /** publish sends `data` on the channel, tagged text or binary (one leading byte). */
  async publish(channel: string, data: string | Uint8Array): Promise<void> {
    const payload = typeof data === 'string'
      ? Buffer.concat([Buffer.of(TEXT), Buffer.from(data)])
      : Buffer.concat([Buffer.of(BINARY), data]);
    await this.#commands.publish(this.#prefix + channel, payload);
  }

  /** subscribe adds a listener; the first one for a channel sends SUBSCRIBE and resolves once Redis confirmed it. */
  async subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    let set = this.#listeners.get(channel);
    if (set === undefined) {
      set = new Set([listener]);
      this.#listeners.set(channel, set);
      try {
        await this.#subscriber.subscribe(this.#prefix + channel);
      } catch (error) {
        if (this.#listeners.get(channel) === set && set.delete(listener) && set.size === 0) this.#listeners.delete(channel);
        throw error;
      }
    } else {
      set.add(listener);
    }
    return {
      unsubscribe: async () => {
        const current = this.#listeners.get(channel);
        if (current === undefined || !current.delete(listener) || current.size > 0) return;
        this.#listeners.delete(channel);
        if (!this.#closed) await this.#subscriber.unsubscribe(this.#prefix + channel);
      },
    };
  }

  /**
   * append stores `record` in the room's stream with the next offset as its id; with `dedupKey` the claim of
   * `remember:<dedupKey>` happens in the same script (a claimed key answers its offset, `duplicate: true`).
   */
  async append(room: string, record: string, options?: AppendOptions): Promise<AppendResult> {
    const keys = [this.#key(room, 'offset'), this.#key(room, 'history'), `${this.#prefix}epoch`];
    const [offset, duplicate] = await this.#history(() => options === undefined
      ? this.#commands.hayateAppend(3, ...keys, record, this.#historyLimit, this.#epoch)
      : this.#commands.hayateAppend(
        4, ...keys, `${this.#prefix}remember:${options.dedupKey}`, record, this.#historyLimit, this.#epoch,
        Math.max(1, Math.round(options.ttlMs)),
      ));
    return duplicate === 1 ? { offset: Number(offset), epoch: this.#epoch, duplicate: true } : { offset: Number(offset), epoch: this.#epoch };
  }

  /** read returns a consistent snapshot (one Lua script) of the room's latest offset, first retained offset and entries. */
  async read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
    const after = Math.min(options.after, Number.MAX_SAFE_INTEGER - 1);
    const [latest, first, raw] = await this.#history(() => this.#commands.hayateRead(
      this.#key(room, 'offset'), this.#key(room, 'history'), `${this.#prefix}epoch`,
      String(after + 1), Math.max(0, options.limit), this.#epoch,
    ));
    const entries: HistoryEntry[] = raw.map(([id, fields]) => ({ offset: Number(id.split('-')[0]), record: fields[1] }));
    return { epoch: this.#epoch, latest: Number(latest), first: Number(first), entries };
  }

  /** setPresence scores `key` with its expiry time; both keys expire when the room is abandoned. */
  async setPresence(room: string, key: string, value: string, ttlMs: number): Promise<void> {
    await this.#commands.hayateSetPresence(
      this.#key(room, 'presence'), this.#key(room, 'presence:v'), key, value, this.#now() + ttlMs, Math.max(1, Math.round(ttlMs * 2)),
    );
  }

  /** deletePresence removes `key` from the room's presence (one script: both keys or neither). */
  async deletePresence(room: string, key: string): Promise<void> {
    await this.#commands.hayateDeletePresence(this.#key(room, 'presence'), this.#key(room, 'presence:v'), key);
  }

  /** listPresence drops expired records and returns the others. */
  async listPresence(room: string): Promise<PresenceRecord[]> {
    const flat = await this.#commands.hayateListPresence(this.#key(room, 'presence'), this.#key(room, 'presence:v'), this.#now());
    const records: PresenceRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) records.push({ key: flat[i], value: flat[i + 1] });
    return records;
  }

  /** remember is `SET key value NX PX ttl GET` (Redis ≥ 7.0), or a plain `SET ... PX` with `replace`. */
  async remember(key: string, value: string, ttlMs: number, options: { replace?: boolean } = {}): Promise<string | null> {
    const name = `${this.#prefix}remember:${key}`;
    const ttl = Math.max(1, Math.round(ttlMs));
    if (options.replace === true) {
      await this.#commands.set(name, value, 'PX', ttl);
      return null;
    }
    return this.#commands.set(name, value, 'PX', ttl, 'NX', 'GET');
  }

  /** forget is `DEL`. */
  async forget(key: string): Promise<void> {
    await this.#commands.del(`${this.#prefix}remember:${key}`);
  }

  /** onResync calls `listener` after every reconnect (when `onReconnected` is called), until unregistered. */
  onResync(listener: (info: ResyncInfo) => void): () => void {
    this.#resyncListeners.add(listener);
    return () => {
      this.#resyncListeners.delete(listener);
    };
  }

  /** close ends both connections (no reconnecting afterwards). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#resyncListeners.clear();
    this.#subscriber.disconnect();
    this.#commands.disconnect();
  }

  /** Runs a history script; when Redis reports another epoch, adopts (or creates) the current one and retries once. */
  async #history<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('EPOCH')) throw error;
      await this.#readEpoch();
      return run();
    }
  }

  /** Adopts the epoch stored in Redis, creating one when Redis lost it; resolves to whether it changed. */
  async #readEpoch(): Promise<boolean> {
    await this.#commands.set(`${this.#prefix}epoch`, randomEpoch(), 'NX');
    const epoch = await this.#commands.get(`${this.#prefix}epoch`);
    if (epoch === null || epoch === this.#epoch) return false;
    this.#epoch = epoch;
    return true;
  }

  /** After a reconnect: once both connections are ready, confirm the subscriptions and re-read the epoch. */
  async #reconnected(): Promise<void> {
    if (this.#closed || this.#commands.status !== 'ready' || this.#subscriber.status !== 'ready') return;
    // ioredis re-sent SUBSCRIBE for every channel before 'ready'; a PING on the same connection is answered after them.
    await this.#subscriber.ping();
    const epochChanged = await this.#readEpoch();
    if (this.#closed) return;
    this.#options.onReconnected?.({ epochChanged });
    for (const listener of this.#resyncListeners) {
      try {
        listener({ epochChanged });
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  #giveUp(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#subscriber.disconnect();
    this.#commands.disconnect();
    this.#options.onConnectionLost?.(error);
  }

  #key(room: string, kind: string): string {
    // Hash tags keep a room's keys together; the scripts also read the global epoch key, so this targets one Redis
    // (with replicas), not Redis Cluster.
    return `${this.#prefix}room:{${room}}:${kind}`;
  }

  #dispatch(channel: string, payload: Buffer): void {
    const name = channel.startsWith(this.#prefix) ? channel.slice(this.#prefix.length) : channel;
    const listeners = this.#listeners.get(name);
    if (listeners === undefined || payload.length === 0) return;
    const data: string | Uint8Array = payload[0] === TEXT ? payload.toString('utf8', 1) : payload.subarray(1);
    for (const listener of listeners) {
      try {
        listener(data);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
