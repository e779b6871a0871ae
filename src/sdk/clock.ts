// Clock: the time source and timers the SDK uses, injectable so tests drive time by hand.
// The default reads `Date.now()` and calls the global `setTimeout`/`clearTimeout` at call time (so Node's mock timers
// also work). It does not offer intervals: every SDK timer is a one-shot that is re-armed explicitly.

/** TimerHandle is an opaque value returned by `Clock.setTimeout`. */
export type TimerHandle = unknown;

/** Clock is the time source and one-shot timers used by the SDK. */
export interface Clock {
  /** now returns milliseconds since the epoch. */
  now(): number;
  /** setTimeout runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** clearTimeout cancels a timer; a handle that already ran or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** systemClock is the default Clock: `Date.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
