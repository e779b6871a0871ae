// RoomHistory: one room's last N messages with their offsets, as a ring buffer (used by the in-memory broker), and the
// two helpers that put an offset into a stored record's JSON and read it back without parsing.
// Offsets start at 1 and grow by 1 per append; the ring keeps the newest `capacity` records. It does not know epochs
// (the broker does) or message formats (records are opaque strings).
import type { HistoryEntry } from './broker.js';

const OFFSET_PREFIX = '{"offset":';

/** withOffset turns a stored record (a JSON object without offset) into the wire message for `offset`. */
export function withOffset(record: string, offset: number): string {
  return `${OFFSET_PREFIX}${offset},${record.slice(1)}`;
}

/** offsetOf reads the offset a wire message built by `withOffset` starts with (undefined for other messages). */
export function offsetOf(data: string): number | undefined {
  if (!data.startsWith(OFFSET_PREFIX)) return undefined;
  const end = data.indexOf(',', OFFSET_PREFIX.length);
  const value = Number(data.slice(OFFSET_PREFIX.length, end));
  return Number.isSafeInteger(value) ? value : undefined;
}

/** RoomHistory keeps the last `capacity` records of one room with monotonic offsets. */
export class RoomHistory {
  readonly #ring: (string | undefined)[];
  #latest = 0;

  /** Creates an empty history that retains at most `capacity` records (0 keeps none, offsets still count). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError('capacity must be a non-negative integer');
    this.#ring = new Array<string | undefined>(capacity);
  }

  /** latest is the offset of the newest record (0 before the first append). */
  get latest(): number {
    return this.#latest;
  }

  /** first is the offset of the oldest retained record (`latest + 1` when none is retained). */
  get first(): number {
    return this.#ring.length === 0 ? this.#latest + 1 : Math.max(1, this.#latest - this.#ring.length + 1);
  }

  /** append stores `record` and returns its offset. */
  append(record: string): number {
    this.#latest += 1;
    if (this.#ring.length > 0) this.#ring[this.#latest % this.#ring.length] = record;
    return this.#latest;
  }

  /** read returns up to `limit` retained records with offsets greater than `after`, oldest first. */
  read(after: number, limit: number): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    const start = Math.max(after + 1, this.first);
    for (let offset = start; offset <= this.#latest && entries.length < limit; offset++) {
      entries.push({ offset, record: this.#ring[offset % this.#ring.length] as string });
    }
    return entries;
  }
}
