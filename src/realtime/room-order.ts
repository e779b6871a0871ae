// RoomOrder: per room with local members, the last offset this node delivered (and its epoch), and the live messages
// held back while a resync re-reads history after that offset. It lets the hub deliver a room's messages once each, in
// offset order, although Pub/Sub may lose payloads (a dropped subscriber connection) and publishes of two nodes may
// cross. Bookkeeping is per room, never per member. Plain state and the ordering rule; the hub runs the resync.
import type { HeldMessage } from './peer.js';

/** OrderedMessage is a live message with its offset (only messages with offsets are ordered). */
export interface OrderedMessage extends HeldMessage {
  offset: number;
}

/** RoomOrder is one room's delivery position on this node. */
export class RoomOrder {
  /** The epoch `last` belongs to; undefined until a baseline is known (first live message or a join's read). */
  epoch: string | undefined = undefined;
  /** The last offset delivered to the room's members on this node. */
  last = 0;
  /** Live messages held while a resync runs (null when none runs). */
  held: OrderedMessage[] | null = null;
  /** The resync under way, if any. */
  running: Promise<void> | null = null;
  /** Another resync was asked for while one ran (a reconnect): the running one reads history again. */
  again = false;
  /** Bumped when the room's order is abandoned (overflow, truncated history): a running resync stops. */
  generation = 0;

  /** baseline sets the position without delivering anything (new epoch, or the first message seen). */
  baseline(epoch: string, offset: number): void {
    this.epoch = epoch;
    this.last = offset;
  }

  /** finish ends the running resync: live messages flow again. */
  finish(): void {
    this.held = null;
    this.running = null;
  }

  /** reset forgets the position and the held messages (the next live message sets a new baseline). */
  reset(): void {
    this.epoch = undefined;
    this.last = 0;
    this.held = null;
    this.running = null;
    this.again = false;
    this.generation += 1;
  }

  /**
   * takeContiguous removes from `held` the messages that follow `last` without a gap (dropping those at or below it:
   * already delivered), advances `last` past them and returns them in offset order. Held messages beyond a gap stay.
   * Unless `epochConfirmed` (a history read just showed the epoch unchanged), a held offset at or below `last` takes
   * nothing: it may be a duplicate, or the first offsets of a new epoch the broker has not noticed yet.
   */
  takeContiguous(epochConfirmed: boolean): OrderedMessage[] {
    const held = this.held;
    if (held === null || held.length === 0) return [];
    held.sort((a, b) => a.offset - b.offset);
    if (!epochConfirmed && held[0].offset <= this.last) return [];
    const out: OrderedMessage[] = [];
    let i = 0;
    for (; i < held.length; i++) {
      const message = held[i];
      if (message.offset <= this.last) continue;
      if (message.offset !== this.last + 1) break;
      out.push(message);
      this.last = message.offset;
    }
    held.splice(0, i);
    return out;
  }

  /** takeAll removes every held message in offset order (an epoch change: nothing to compare offsets with). */
  takeAll(): OrderedMessage[] {
    const held = this.held ?? [];
    this.held = [];
    held.sort((a, b) => a.offset - b.offset);
    return held;
  }
}
