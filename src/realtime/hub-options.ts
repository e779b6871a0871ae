// The Hub's options, observer and logger hooks, with every default in one place (docs/limits.md lists them with the
// reasons). Plain types and one function; no behaviour.
import type { Broker } from './broker.js';
import type { ErrorCode, UserRef } from './messages.js';
import type { RateLimit } from './rate-limit.js';
import type { RecentIdsOptions } from './recent-ids.js';
import type { PrepareFunction } from './socket.js';

/** HubObserver receives counts for metrics; every method is optional and must not throw. */
export interface HubObserver {
  connectionOpened?(): void;
  connectionClosed?(): void;
  /** A client message arrived (`bytes` long). */
  messageIn?(bytes: number, binary: boolean): void;
  /** A message of `bytes` was written to `recipients` connections. */
  messageOut?(bytes: number, recipients: number): void;
  /** An `error` reply with `code` was sent. */
  errorSent?(code: ErrorCode): void;
  /** A connection was closed for being a slow consumer (1013). */
  slowConsumer?(): void;
  /** A connection was closed for sustained abuse (1008). */
  policyViolation?(): void;
  /** A room's history was re-read because live payloads were lost or crossed (a gap, or the broker's resync). */
  resyncStarted?(): void;
  /** A room's resync gave up and closed its members with 1012 so that they resume by offset. */
  resyncAbandoned?(): void;
}

/** HubLogger is the subset of a pino logger the hub uses. */
export interface HubLogger {
  warn(object: object, message?: string): void;
  info(object: object, message?: string): void;
  debug(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

/** HubOptions configures a Hub; every limit has a default (docs/limits.md). */
export interface HubOptions {
  broker: Broker;
  /** Frames a broadcast once. Default: identity (the transport frames each send). */
  prepare?: PrepareFunction;
  /** The transport's heartbeat interval, announced in `welcome`. Default 30_000. */
  heartbeatMs?: number;
  /** Messages replayed at most per join (should match the broker's history size). Default 1000. */
  replayLimit?: number;
  /** Largest client message accepted, in bytes (larger ones get `too_large`). Default 65_536. */
  maxMessageBytes?: number;
  /** Per-connection message rate. Default 20/s, burst 40. */
  connectionRate?: RateLimit;
  /** Per-user message rate (all its connections together). Default 50/s, burst 100. */
  userRate?: RateLimit;
  /** Refused messages tolerated before closing with 1008. Default 10 at once, refilling 1/s. */
  errorBudget?: RateLimit;
  /** Client messages queued behind a pending one before the connection is closed with 1008. Default 256. */
  maxBacklog?: number;
  /** Send-queue bound in bytes; over it for `slowConsumerGraceMs` closes with 1013. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Send-queue size that closes with 1013 at once. Default 8 MiB. */
  hardMaxBufferedBytes?: number;
  /** Grace period over `maxBufferedBytes`, in milliseconds. Default 5_000. */
  slowConsumerGraceMs?: number;
  /** Time a closing connection gets before it is terminated, in milliseconds. Default 5_000. */
  closeTimeoutMs?: number;
  /** Connections per user. Default 8. */
  maxConnectionsPerUser?: number;
  /** Connections per IP address. Default 64. */
  maxConnectionsPerIp?: number;
  /** Most members listed in `joined` (`memberCount` has the total). Default 200. */
  maxMembersListed?: number;
  /** Rooms with more local members than this get no presence join/leave events (they would be O(n²)). Default 1000. */
  presenceEventsUpTo?: number;
  /** Presence record lifetime without refresh (refreshed every third of it). Default 60_000. */
  presenceTtlMs?: number;
  /**
   * How long a room waits after a live message skipped offsets (or repeated one) before re-reading history, in
   * milliseconds: publishes of two nodes that crossed usually fill the gap meanwhile, without a read. Default 50.
   */
  resyncGraceMs?: number;
  /**
   * Live messages held per room while its history is re-read; beyond it the room's local members are closed with 1012
   * (they resume by offset). Default 10_000.
   */
  maxHeldPerRoom?: number;
  /** Duplicate-suppression window per user. Default 1024 ids for 10 minutes. */
  dedup?: RecentIdsOptions;
  /** Interval of the one housekeeping timer (slow consumers, expiry, presence refresh). Default 250. */
  sweepIntervalMs?: number;
  observer?: HubObserver;
  logger?: HubLogger;
  /** Clock, ms since the Unix epoch. Default `Date.now`. */
  now?: () => number;
}

/** ConnectionIdentity is who a new connection belongs to (from authentication) and where it comes from. */
export interface ConnectionIdentity {
  user: UserRef;
  /** Remote IP address, for per-IP limits. Default `unknown`. */
  address?: string;
  /** Token expiry (ms since the Unix epoch); the connection is closed with 4001 then. */
  expiresAt?: number;
}

/** Admission is the answer to "may this user open one more connection from this address?". */
export type Admission = { ok: true } | { ok: false; status: 429 | 503; reason: string };

/** ResolvedHubLimits are the Hub options after defaults are applied (numbers and rates only). */
export type ResolvedHubLimits = Required<Omit<HubOptions, 'broker' | 'prepare' | 'observer' | 'logger' | 'now' | 'dedup'>>;

/** resolveHubLimits applies the documented defaults to `options`. */
export function resolveHubLimits(options: HubOptions): ResolvedHubLimits {
  return {
    heartbeatMs: options.heartbeatMs ?? 30_000,
    replayLimit: options.replayLimit ?? 1000,
    maxMessageBytes: options.maxMessageBytes ?? 65_536,
    connectionRate: options.connectionRate ?? { perSecond: 20, burst: 40 },
    userRate: options.userRate ?? { perSecond: 50, burst: 100 },
    errorBudget: options.errorBudget ?? { perSecond: 1, burst: 10 },
    maxBacklog: options.maxBacklog ?? 256,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    hardMaxBufferedBytes: options.hardMaxBufferedBytes ?? 8 * 1024 * 1024,
    slowConsumerGraceMs: options.slowConsumerGraceMs ?? 5_000,
    closeTimeoutMs: options.closeTimeoutMs ?? 5_000,
    maxConnectionsPerUser: options.maxConnectionsPerUser ?? 8,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? 64,
    presenceTtlMs: options.presenceTtlMs ?? 60_000,
    maxMembersListed: options.maxMembersListed ?? 200,
    presenceEventsUpTo: options.presenceEventsUpTo ?? 1000,
    sweepIntervalMs: options.sweepIntervalMs ?? 250,
    resyncGraceMs: options.resyncGraceMs ?? 50,
    maxHeldPerRoom: options.maxHeldPerRoom ?? 10_000,
  };
}
