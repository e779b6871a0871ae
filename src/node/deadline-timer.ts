// DeadlineTimer: one shared, unref'd `setTimeout` for every deadline of the Node driver (close timeouts, handshake
// timeouts, idle timeouts), ordered in a binary min-heap.
//
// Why: DESIGN.md "Hot paths" asks for no timer per connection where one shared structure does. Each deadline costs one
// small heap entry (made when a deadline is armed: per handshake or per close, never per message); cancelling is O(1)
// (the entry is marked dead and dropped when it reaches the top). Only the earliest deadline has a real Node timer.
//
// What it does not do: it is no general scheduler. Callbacks run on the Node timer phase, late by up to the event
// loop's lag; `now` is `performance.now()` (monotonic), so wall-clock jumps do not fire or delay anything.
import { performance } from 'node:perf_hooks';

/** DeadlineCallback is what a deadline runs: a plain function of one argument, so callers can pass a shared function. */
export type DeadlineCallback<T> = (target: T) => void;

/** Deadline is one armed deadline; pass it to `DeadlineTimer.cancel()`. */
export interface Deadline {
  /** at is the `performance.now()` time at which the deadline fires. */
  readonly at: number;
}

interface Entry extends Deadline {
  at: number;
  seq: number;
  fn: DeadlineCallback<unknown> | null;
  target: unknown;
}

/** DeadlineTimer keeps many deadlines on one Node timer. */
export class DeadlineTimer {
  #heap: Entry[] = [];
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #seq = 0;
  #live = 0;

  /** size is the number of armed (not cancelled, not yet fired) deadlines. */
  get size(): number {
    return this.#live;
  }

  /** schedule arms `fn(target)` to run `delayMs` milliseconds from now and returns a handle for `cancel()`. */
  schedule<T>(delayMs: number, fn: DeadlineCallback<T>, target: T): Deadline {
    const entry: Entry = { at: performance.now() + Math.max(0, delayMs), seq: this.#seq++, fn: fn as DeadlineCallback<unknown>, target };
    this.#push(entry);
    this.#live++;
    this.#arm();
    return entry;
  }

  /** cancel disarms a deadline; cancelling one that fired or was cancelled already does nothing. */
  cancel(deadline: Deadline | null | undefined): void {
    if (deadline === null || deadline === undefined) return;
    const entry = deadline as Entry;
    if (entry.fn === null) return;
    entry.fn = null;
    entry.target = null;
    this.#live--;
    // The timer stays armed: when it fires early it only re-arms. Clearing it here would cost a new Node timer for
    // every handshake of a server whose deadlines come and go one at a time.
    if (this.#live === 0) this.#heap.length = 0;
  }

  /** runDue fires every deadline whose time has come (the shared timer calls it; tests may too). */
  runDue(now: number = performance.now()): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0].at <= now) {
      const entry = this.#pop();
      const fn = entry.fn;
      if (fn === null) continue;
      const target = entry.target;
      entry.fn = null;
      entry.target = null;
      this.#live--;
      try {
        fn(target);
      } catch (err) {
        // A deadline callback must not break the others or escape into the event loop.
        process.emitWarning(err instanceof Error ? err : String(err), { code: 'HAYATE_DEADLINE' });
      }
    }
    // Callbacks may have armed deadlines (and the timer) themselves; #arm keeps or re-arms the one timer.
    this.#arm();
  }

  #arm(): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0].fn === null) this.#pop();
    if (heap.length === 0) {
      this.#clear();
      return;
    }
    const at = heap[0].at;
    if (this.#timer !== null && this.#timerAt <= at) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(at - performance.now())));
    this.#timer.unref();
  }

  #clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.#live === 0) this.#heap.length = 0;
  }

  #onTimer = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.runDue();
  };

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(entry, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop() as Entry;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      while (true) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.#less(heap[r], heap[l]) ? r : l;
        if (!this.#less(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

/** sharedDeadlines is the one DeadlineTimer every connection and server of this process uses. */
export const sharedDeadlines = new DeadlineTimer();
