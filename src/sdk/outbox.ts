// Outbox: the bounded queue of client messages that still wait for the server's `ack`.
// Every `chat`/`dm` the application sends gets a client message id and stays here until acked (or refused), whether it
// was sent already or is waiting for a connection. After each reconnect the chat client takes `toSend(session)` and
// sends each waiting entry exactly once on that connection; the server drops duplicates by id (docs/protocol.md,
// "Duplicate suppression"), so a message that was sent but not acked before a drop is delivered once.
// Bounds: entry count and serialized bytes. When full, the overflow policy decides who loses and the loser's promise
// rejects with an `OutboxFullError` (the chat client also emits it): never a silent drop.
// It does not touch sockets or timers.

import { Emitter } from './emitter.js';

/** OverflowPolicy says who loses when the outbox is full: the new message, or the oldest waiting one. */
export type OverflowPolicy = 'reject-new' | 'drop-oldest';

/** OutboxOptions bounds an Outbox. */
export interface OutboxOptions {
  /** Most messages held (waiting or unacknowledged). Default 500. */
  maxCount?: number;
  /** Most UTF-8 bytes of serialized messages held. Default 1 MiB (1 048 576). */
  maxBytes?: number;
  /** Who loses when a new message does not fit. Default `'reject-new'`. */
  overflow?: OverflowPolicy;
}

/** OutboxFullError rejects a message that did not fit in the outbox (or was pushed out by a newer one). */
export class OutboxFullError extends Error {
  override readonly name = 'OutboxFullError';
  /** The client message id that was refused or dropped. */
  readonly messageId: string;
  /** Which bound was hit. */
  readonly limit: 'count' | 'bytes';
  constructor(messageId: string, limit: 'count' | 'bytes', dropped: boolean) {
    super(
      dropped
        ? `message ${messageId} was dropped from the full outbox (${limit} limit) to make room for a newer one`
        : `message ${messageId} does not fit in the outbox (${limit} limit)`,
    );
    this.messageId = messageId;
    this.limit = limit;
  }
}

/** OutboxEntry is one held message: its id, serialized form, size, what it is for, and where it was last sent. */
export interface OutboxEntry<Meta = unknown, Result = unknown> {
  readonly id: string;
  readonly data: string;
  readonly bytes: number;
  readonly meta: Meta;
  /** The session it was last sent on, or -1 while it waits for one. */
  sentOn: number;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: Error) => void;
}

/** OutboxEvents are emitted by an Outbox. */
export interface OutboxEvents<Meta> {
  /** An entry was refused or dropped because the outbox was full. */
  overflow: { readonly entry: { readonly id: string; readonly meta: Meta }; readonly error: OutboxFullError };
}

/** utf8Length returns the number of bytes `text` takes in UTF-8 (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Outbox holds messages until the server acknowledges them, within a count and a byte bound. */
export class Outbox<Meta = unknown, Result = unknown> extends Emitter<OutboxEvents<Meta>> {
  readonly maxCount: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
  #entries = new Map<string, OutboxEntry<Meta, Result>>();
  #bytes = 0;

  constructor(options: OutboxOptions = {}) {
    super();
    this.maxCount = options.maxCount ?? 500;
    this.maxBytes = options.maxBytes ?? 1_048_576;
    this.overflow = options.overflow ?? 'reject-new';
    if (!(this.maxCount >= 1) || !(this.maxBytes >= 1)) throw new RangeError('Outbox bounds must be at least 1');
  }

  /** size is the number of held messages. */
  get size(): number {
    return this.#entries.size;
  }

  /** bytes is the UTF-8 size of all held messages. */
  get bytes(): number {
    return this.#bytes;
  }

  /** has says whether message `id` is held. */
  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /**
   * add holds a message and returns a promise settled by `ack`/`fail`. When it does not fit, the overflow policy
   * applies: `reject-new` rejects this promise with OutboxFullError; `drop-oldest` rejects the oldest entries'
   * promises until it fits. A message bigger than `maxBytes` on its own is always rejected.
   */
  add(id: string, data: string, meta: Meta): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      if (this.#entries.has(id)) {
        reject(new Error(`message id ${id} is already in the outbox`));
        return;
      }
      const bytes = utf8Length(data);
      const refuse = (limit: 'count' | 'bytes'): void => {
        const error = new OutboxFullError(id, limit, false);
        this.emit('overflow', { entry: { id, meta }, error });
        reject(error);
      };
      if (bytes > this.maxBytes) {
        refuse('bytes');
        return;
      }
      const limitHit = (): 'count' | 'bytes' | null =>
        this.#entries.size + 1 > this.maxCount ? 'count' : this.#bytes + bytes > this.maxBytes ? 'bytes' : null;
      let limit = limitHit();
      if (limit !== null && this.overflow === 'reject-new') {
        refuse(limit);
        return;
      }
      while (limit !== null) {
        const oldest = this.#entries.values().next().value as OutboxEntry<Meta, Result>;
        this.#remove(oldest.id);
        const error = new OutboxFullError(oldest.id, limit, true);
        this.emit('overflow', { entry: { id: oldest.id, meta: oldest.meta }, error });
        oldest.reject(error);
        limit = limitHit();
      }
      this.#entries.set(id, { id, data, bytes, meta, sentOn: -1, resolve, reject });
      this.#bytes += bytes;
    });
  }

  /**
   * toSend returns, in order, the entries not yet sent on `session` and marks them sent on it, so each message is
   * written at most once per connection.
   */
  toSend(session: number): Array<OutboxEntry<Meta, Result>> {
    const out: Array<OutboxEntry<Meta, Result>> = [];
    for (const entry of this.#entries.values()) {
      if (entry.sentOn !== session) {
        entry.sentOn = session;
        out.push(entry);
      }
    }
    return out;
  }

  /** ack resolves and removes message `id`; it returns false when the id is not held (an ack for someone else). */
  ack(id: string, result: Result): boolean {
    const entry = this.#remove(id);
    if (entry === undefined) return false;
    entry.resolve(result);
    return true;
  }

  /** fail rejects and removes message `id`; it returns false when the id is not held. */
  fail(id: string, error: Error): boolean {
    const entry = this.#remove(id);
    if (entry === undefined) return false;
    entry.reject(error);
    return true;
  }

  /** failAll rejects and removes every held message (e.g. when the connection stops for good). */
  failAll(error: Error): void {
    for (const id of [...this.#entries.keys()]) this.fail(id, error);
  }

  /** entries returns the held messages, oldest first. */
  entries(): Array<OutboxEntry<Meta, Result>> {
    return [...this.#entries.values()];
  }

  #remove(id: string): OutboxEntry<Meta, Result> | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
    return entry;
  }
}
