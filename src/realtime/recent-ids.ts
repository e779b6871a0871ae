// RecentIds: the duplicate-suppression window of one user (docs/protocol.md, "Duplicate suppression"). It remembers
// the outcome of the last `size` client message ids for `ttlMs`, so a resent chat/dm is acked again without being
// delivered twice. Bounded by count and age; it does not persist across restarts (neither does the epoch's history).

/** RecentIdsOptions bounds a RecentIds window. */
export interface RecentIdsOptions {
  /** Ids remembered per user. Default 1024. */
  size?: number;
  /** How long an id is remembered, in milliseconds. Default 600_000 (10 minutes). */
  ttlMs?: number;
}

interface Seen {
  /** Resolves to the offset the message was stored at (undefined when it had none or failed). */
  result: Promise<number | undefined>;
  at: number;
}

/** RecentIds remembers recent client message ids of one user with the eventual offset of each. */
export class RecentIds {
  readonly #size: number;
  readonly #ttlMs: number;
  readonly #seen = new Map<string, Seen>();

  /** Creates an empty window. */
  constructor(options: RecentIdsOptions = {}) {
    this.#size = options.size ?? 1024;
    this.#ttlMs = options.ttlMs ?? 600_000;
  }

  /** get returns the pending or settled outcome of `id` when it was seen within the window, else undefined. */
  get(id: string, now: number): Promise<number | undefined> | undefined {
    const seen = this.#seen.get(id);
    if (seen === undefined) return undefined;
    if (now - seen.at > this.#ttlMs) {
      this.#seen.delete(id);
      return undefined;
    }
    return seen.result;
  }

  /** remember records `id` with its (possibly pending) outcome, evicting the oldest beyond the size bound. */
  remember(id: string, result: Promise<number | undefined>, now: number): void {
    this.#seen.delete(id);
    this.#seen.set(id, { result, at: now });
    if (this.#seen.size > this.#size) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
    }
  }

  /** forget drops `id` (a message that failed, so a resend is processed again). */
  forget(id: string): void {
    this.#seen.delete(id);
  }

  /** size is the number of ids remembered. */
  get size(): number {
    return this.#seen.size;
  }
}
