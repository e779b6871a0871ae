// TokenBucket: the rate limiter of the realtime hub (one per connection, one per user, one for each connection's
// error budget). A bucket holds up to `burst` tokens and refills at `perSecond`; a message takes one. No timers: the
// refill is computed from the clock at each `take`. It does not decide what happens when the bucket is empty.

/** RateLimit configures a token bucket: a sustained rate and the burst allowed above it. */
export interface RateLimit {
  /** Tokens added per second (the sustained message rate). */
  perSecond: number;
  /** Bucket size (the most messages accepted at once after a quiet period). */
  burst: number;
}

/** TokenBucket is a token-bucket rate limiter driven by the caller's clock (milliseconds). */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAt: number;

  /** Creates a full bucket at time `now`. */
  constructor(limit: RateLimit, now: number) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('perSecond must be > 0 and burst >= 1');
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst;
    this.#tokens = limit.burst;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) * this.#perMs);
      this.#updatedAt = now;
    }
  }

  /** tokens is the number of whole tokens available at `now`. */
  tokens(now: number): number {
    this.#refill(now);
    return Math.floor(this.#tokens);
  }

  /** take removes one token and returns 0, or, when none is available, returns the milliseconds until one is. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }

  /** giveBack returns one token taken by `take` (used when a second limiter refuses the same message). */
  giveBack(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }
}
