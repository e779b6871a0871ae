// Heartbeat: the server's keep-alive. ONE unref'd interval for all connections of a server; each round pings every
// open connection and terminates those that sent nothing (no pong, no frame, no byte) since the previous round.
//
// RFC 6455 §5.5.2: "A Ping frame MAY serve either as a keepalive or as a means to verify that the remote endpoint is
// still responsive." §5.5.3: the peer "MUST send a Pong frame in response". Any received byte counts as an answer, so
// a busy connection is never killed for a pong stuck behind its own data.
//
// What it does not do: per-connection timers (never), latency measurement, or closing handshakes for dead peers (a
// peer that does not answer pings will not answer a Close either: it is terminated, the close event reports 1006).
import type { Connection } from './connection.js';

/** DEFAULT_HEARTBEAT_INTERVAL is the server's default ping round period in milliseconds (30 s). */
export const DEFAULT_HEARTBEAT_INTERVAL = 30_000;

/** HeartbeatOptions configures a {@link Heartbeat}. */
export interface HeartbeatOptions {
  /** Milliseconds between rounds; default 30 000. 0 disables the timer (rounds still run through `runRound()`). */
  interval?: number;
  /**
   * The set to watch, when the owner already keeps one (the server passes its connection set, so a connection costs
   * one set entry, not two); default: a set of the heartbeat's own, filled with `add()`.
   */
  targets?: Set<HeartbeatTarget>;
}

/** HeartbeatTarget is what the heartbeat needs of a connection (a {@link Connection} satisfies it). */
export type HeartbeatTarget = Pick<Connection, 'readyState' | 'ping' | 'terminate' | 'takeAlive'>;

/** Heartbeat pings a set of connections on one shared interval and terminates the ones that stopped answering. */
export class Heartbeat {
  /** interval is the round period in milliseconds (0: no timer). */
  readonly interval: number;
  #targets: Set<HeartbeatTarget>;
  #timer: NodeJS.Timeout | null = null;
  #rounds = 0;
  #terminated = 0;

  /** Heartbeat makes a stopped heartbeat; `start()` arms the timer. */
  constructor(options: HeartbeatOptions = {}) {
    const interval = options.interval ?? DEFAULT_HEARTBEAT_INTERVAL;
    if (!Number.isFinite(interval) || interval < 0) throw new RangeError(`invalid heartbeat interval ${interval}`);
    this.interval = interval;
    this.#targets = options.targets ?? new Set();
  }

  /** size is the number of connections watched. */
  get size(): number {
    return this.#targets.size;
  }

  /** rounds is how many rounds ran. */
  get rounds(): number {
    return this.#rounds;
  }

  /** terminated counts connections terminated for not answering. */
  get terminated(): number {
    return this.#terminated;
  }

  /** running tells whether the interval timer is armed. */
  get running(): boolean {
    return this.#timer !== null;
  }

  /** add watches a connection from the next round on (its first round pings it; the second may terminate it). */
  add(target: HeartbeatTarget): void {
    this.#targets.add(target);
  }

  /** delete stops watching a connection (call it on close). */
  delete(target: HeartbeatTarget): void {
    this.#targets.delete(target);
  }

  /** start arms the shared, unref'd interval (no-op when the interval is 0 or it runs already). */
  start(): void {
    if (this.interval === 0 || this.#timer !== null) return;
    this.#timer = setInterval(this.#onTick, this.interval);
    this.#timer.unref();
  }

  /** stop disarms the interval; watched connections stay watched. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * runRound runs one round now: every open connection that received nothing since the previous round is terminated,
   * every other one is pinged (the pings of a round are flushed together in one tick). Returns how many were terminated.
   */
  runRound(): number {
    this.#rounds++;
    let killed = 0;
    for (const target of this.#targets) {
      if (target.readyState !== 1) {
        if (target.readyState === 3) this.#targets.delete(target);
        continue;
      }
      if (!target.takeAlive()) {
        killed++;
        this.#targets.delete(target);
        target.terminate();
      } else {
        target.ping();
      }
    }
    this.#terminated += killed;
    return killed;
  }

  #onTick = (): void => {
    this.runRound();
  };
}
