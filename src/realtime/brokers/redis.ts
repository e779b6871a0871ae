// RedisBroker: the Broker over Redis, so several hub processes form one service (docs/brokers.md maps every method).
// Pub/Sub carries live messages (one subscriber connection per node), a Stream per room holds history with entry ids
// equal to offsets (`<offset>-0`, assigned atomically by a Lua script with INCR), and a sorted set scored by expiry time
// plus a hash hold presence records. The epoch lives in Redis (`SET NX`), so it survives node restarts and changes
// when Redis loses its data.
// It does not reconnect after losing Redis (commands then fail and the hub answers `internal_error`); run it under a
// supervisor. It uses its own minimal RESP client (redis-connection.ts).
import type { Broker, ChannelListener, HistoryEntry, HistoryPage, PresenceRecord, Subscription } from '../broker.js';
import { RedisConnection, type RedisReply } from './redis-connection.js';

/** RedisBrokerOptions configures a RedisBroker. */
export interface RedisBrokerOptions {
  /** Redis URL. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key and channel. Default `hayate:`. */
  prefix?: string;
  /** Messages retained per room (exact `MAXLEN`). Default 1000. */
  historyLimit?: number;
  /** Clock for presence expiry scores. Default `Date.now`. */
  now?: () => number;
  /** Connection name shown by `CLIENT LIST` (no spaces). Default `hayate`. */
  clientName?: string;
  /**
   * Called once when either connection to Redis is lost (the broker does not reconnect: live delivery and history
   * stop working). Default: nothing. `hayate serve` closes its connections with 1012 and exits, for a supervisor to
   * restart it.
   */
  onConnectionLost?: (error: Error) => void;
}

// Both history scripts refuse to run when the epoch key is not the one this node knows: Redis lost its data (or was
// replaced), so offsets restarted and must not be mixed with the old epoch's.
const APPEND = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return redis.error_reply('EPOCH changed') end
local offset = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'r', ARGV[1])
return offset`;

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

const TEXT = 0x74; // 't': the payload after it is UTF-8 text
const BINARY = 0x62; // 'b': the payload after it is bytes

function randomEpoch(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function text(reply: RedisReply): string {
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
}

/** RedisBroker implements Broker over one Redis (two connections per node: commands and subscriptions). */
export class RedisBroker implements Broker {
  #epoch: string;
  readonly #commands: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #prefix: string;
  readonly #historyLimit: number;
  readonly #now: () => number;
  readonly #listeners = new Map<string, Set<ChannelListener>>();
  #closed = false;

  private constructor(commands: RedisConnection, subscriber: RedisConnection, epoch: string, options: RedisBrokerOptions) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#epoch = epoch;
    this.#prefix = options.prefix ?? 'hayate:';
    this.#historyLimit = options.historyLimit ?? 1000;
    this.#now = options.now ?? Date.now;
    subscriber.onMessage = (channel, payload) => this.#dispatch(channel, payload);
    let lost = false;
    const onLost = (error: Error): void => {
      if (lost || this.#closed) return;
      lost = true;
      options.onConnectionLost?.(error);
    };
    commands.onError = onLost;
    subscriber.onError = onLost;
  }

  /** connect opens both connections and reads (or creates) the epoch. */
  static async connect(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const prefix = options.prefix ?? 'hayate:';
    const commands = await RedisConnection.open(url);
    let subscriber: RedisConnection;
    try {
      subscriber = await RedisConnection.open(url);
    } catch (error) {
      commands.close();
      throw error;
    }
    const name = options.clientName ?? 'hayate';
    await Promise.all([commands.command(['CLIENT', 'SETNAME', name]), subscriber.command(['CLIENT', 'SETNAME', `${name}-sub`])]);
    await commands.command(['SET', `${prefix}epoch`, randomEpoch(), 'NX']);
    const epoch = text(await commands.command(['GET', `${prefix}epoch`]));
    return new RedisBroker(commands, subscriber, epoch, options);
  }

  /** epoch is the history epoch stored in Redis (a flushed Redis gets a new one at the next connect). */
  get epoch(): string {
    return this.#epoch;
  }

  /** publish sends `data` on the channel, tagged text or binary (one leading byte). */
  async publish(channel: string, data: string | Uint8Array): Promise<void> {
    const payload = typeof data === 'string'
      ? Buffer.concat([Buffer.of(TEXT), Buffer.from(data)])
      : Buffer.concat([Buffer.of(BINARY), data]);
    await this.#commands.command(['PUBLISH', this.#prefix + channel, payload]);
  }

  /** subscribe adds a listener; the first one for a channel sends SUBSCRIBE and resolves once Redis confirmed it. */
  async subscribe(channel: string, listener: ChannelListener): Promise<Subscription> {
    let set = this.#listeners.get(channel);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(channel, set);
      set.add(listener);
      await this.#subscriber.command(['SUBSCRIBE', this.#prefix + channel]);
    } else {
      set.add(listener);
    }
    return {
      unsubscribe: async () => {
        const current = this.#listeners.get(channel);
        if (current === undefined || !current.delete(listener) || current.size > 0) return;
        this.#listeners.delete(channel);
        await this.#subscriber.command(['UNSUBSCRIBE', this.#prefix + channel]);
      },
    };
  }

  /** append stores `record` in the room's stream with the next offset as its id. */
  async append(room: string, record: string): Promise<{ offset: number; epoch: string }> {
    const offset = await this.#history(() => this.#commands.command([
      'EVAL', APPEND, 3, this.#key(room, 'offset'), this.#key(room, 'history'), `${this.#prefix}epoch`, record, this.#historyLimit, this.#epoch,
    ]));
    return { offset: Number(offset), epoch: this.#epoch };
  }

  /** Runs a history script; when Redis reports another epoch, adopts (or creates) the current one and retries once. */
  async #history(run: () => Promise<RedisReply>): Promise<RedisReply> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('EPOCH')) throw error;
      await this.#commands.command(['SET', `${this.#prefix}epoch`, randomEpoch(), 'NX']);
      this.#epoch = text(await this.#commands.command(['GET', `${this.#prefix}epoch`]));
      return run();
    }
  }

  /** read returns a consistent snapshot (one Lua script) of the room's latest offset, first retained offset and entries. */
  async read(room: string, options: { after: number; limit: number }): Promise<HistoryPage> {
    const after = Math.min(options.after, Number.MAX_SAFE_INTEGER - 1);
    const reply = await this.#history(() => this.#commands.command([
      'EVAL', READ, 3, this.#key(room, 'offset'), this.#key(room, 'history'), `${this.#prefix}epoch`,
      String(after + 1), Math.max(0, options.limit), this.#epoch,
    ])) as RedisReply[];
    const entries: HistoryEntry[] = (reply[2] as RedisReply[]).map((entry) => {
      const [id, fields] = entry as [Buffer, Buffer[]];
      return { offset: Number(text(id).split('-')[0]), record: text(fields[1]) };
    });
    return { epoch: this.#epoch, latest: Number(reply[0]), first: Number(reply[1]), entries };
  }

  /** setPresence scores `key` with its expiry time; both keys expire when the room is abandoned. */
  async setPresence(room: string, key: string, value: string, ttlMs: number): Promise<void> {
    await this.#commands.command([
      'EVAL', SET_PRESENCE, 2, this.#key(room, 'presence'), this.#key(room, 'presence:v'), key, value, this.#now() + ttlMs, ttlMs * 2,
    ]);
  }

  /** deletePresence removes `key` from the room's presence. */
  async deletePresence(room: string, key: string): Promise<void> {
    await this.#commands.command(['ZREM', this.#key(room, 'presence'), key]);
    await this.#commands.command(['HDEL', this.#key(room, 'presence:v'), key]);
  }

  /** listPresence drops expired records and returns the others. */
  async listPresence(room: string): Promise<PresenceRecord[]> {
    const flat = await this.#commands.command([
      'EVAL', LIST_PRESENCE, 2, this.#key(room, 'presence'), this.#key(room, 'presence:v'), this.#now(),
    ]) as RedisReply[];
    const records: PresenceRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) records.push({ key: text(flat[i]), value: text(flat[i + 1]) });
    return records;
  }

  /** remember is `SET key value NX PX ttl GET` (Redis ≥ 7.0), or a plain `SET ... PX` with `replace`. */
  async remember(key: string, value: string, ttlMs: number, options: { replace?: boolean } = {}): Promise<string | null> {
    const name = `${this.#prefix}remember:${key}`;
    if (options.replace === true) {
      await this.#commands.command(['SET', name, value, 'PX', Math.max(1, Math.round(ttlMs))]);
      return null;
    }
    const previous = await this.#commands.command(['SET', name, value, 'NX', 'PX', Math.max(1, Math.round(ttlMs)), 'GET']);
    return previous === null ? null : text(previous);
  }

  /** forget is `DEL`. */
  async forget(key: string): Promise<void> {
    await this.#commands.command(['DEL', `${this.#prefix}remember:${key}`]);
  }

  /** close ends both connections. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#subscriber.close();
    this.#commands.close();
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
