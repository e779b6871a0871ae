// Backoff: the reconnect delay schedule, exponential with full jitter and a cap.
// "Full jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter"): delay = random(0, min(cap, base * factor^n)).
// Spreading reconnects uniformly over the whole window keeps a fleet of clients that lost the same server from
// coming back in lockstep. The schedule resets once a connection has stayed up for `resetAfterMs` (the reconnecting
// socket arms that timer; see reconnecting-socket.ts). It does not know about close codes (close-policy.ts) or timers.

/** BackoffOptions configures a Backoff. */
export interface BackoffOptions {
  /** Upper bound of the first delay window, in ms. Default 500. */
  initialDelayMs?: number;
  /** Largest delay window, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Growth of the window per attempt. Default 2. */
  factor?: number;
  /** Smallest delay ever returned, in ms (keeps a tight loop from hammering a server). Default 0. */
  minDelayMs?: number;
  /** How long a connection must stay open before the schedule starts over, in ms. Default 10 000. */
  resetAfterMs?: number;
  /** Uniform random number in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Backoff returns successive reconnect delays: full jitter over an exponentially growing, capped window. */
export class Backoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly minDelayMs: number;
  readonly resetAfterMs: number;
  #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialDelayMs = options.initialDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.minDelayMs = options.minDelayMs ?? 0;
    this.resetAfterMs = options.resetAfterMs ?? 10_000;
    this.#random = options.random ?? Math.random;
    if (!(this.initialDelayMs > 0) || !(this.maxDelayMs >= this.initialDelayMs) || !(this.factor >= 1)) {
      throw new RangeError('Backoff needs 0 < initialDelayMs <= maxDelayMs and factor >= 1');
    }
  }

  /** attempt is how many delays have been handed out since the last reset (the next attempt's number minus one). */
  get attempt(): number {
    return this.#attempt;
  }

  /** windowMs returns the upper bound of the delay window for attempt `n` (1-based): min(cap, initial * factor^(n-1)). */
  windowMs(n: number): number {
    const exponent = Math.max(0, n - 1);
    // Cap the exponent so factor^exponent never overflows to Infinity in a very long outage.
    const raw = this.initialDelayMs * Math.pow(this.factor, Math.min(exponent, 64));
    return Math.min(this.maxDelayMs, raw);
  }

  /** next counts one more attempt and returns its delay in ms, uniform in [minDelayMs, window). */
  next(): number {
    this.#attempt += 1;
    const window = this.windowMs(this.#attempt);
    const r = Math.min(Math.max(this.#random(), 0), 1 - Number.EPSILON);
    return Math.max(this.minDelayMs, Math.floor(r * window));
  }

  /** reset starts the schedule over (after a connection stayed up for `resetAfterMs`). */
  reset(): void {
    this.#attempt = 0;
  }
}
