// Rooms: which local connections are in which room, and the broker subscription that feeds each room while it has
// local members (subscribe on the first member, unsubscribe after the last). Delivery policy (prepare once, write to
// every member, hold back for joiners, re-read history after lost payloads) is the hub's; this module only keeps the
// sets, the subscriptions and each room's RoomOrder (room-order.ts).
import type { Broker, Subscription } from './broker.js';
import type { Peer } from './peer.js';
import { RoomOrder } from './room-order.js';

/** roomChannel is the broker channel carrying a room's live messages. */
export function roomChannel(room: string): string {
  return `room:${room}`;
}

/** RoomState is one room with local members: who, its subscription, and its delivery position. */
export interface RoomState {
  readonly members: Set<Peer>;
  readonly subscription: Promise<Subscription | undefined>;
  readonly order: RoomOrder;
}

/** Rooms tracks local room membership and keeps one broker subscription per room with local members. */
export class Rooms {
  readonly #broker: Broker;
  readonly #deliver: (room: string, data: string | Uint8Array) => void;
  readonly #rooms = new Map<string, RoomState>();
  readonly #onError: (error: unknown) => void;
  readonly #unsubscribing = new Set<Promise<void>>();

  /** Creates an empty registry; `deliver` is called for each payload published on a room with local members. */
  constructor(options: {
    broker: Broker;
    deliver: (room: string, data: string | Uint8Array) => void;
    onError?: (error: unknown) => void;
  }) {
    this.#broker = options.broker;
    this.#deliver = options.deliver;
    this.#onError = options.onError ?? (() => {});
  }

  /** add puts `peer` in `room` at once and resolves when the room's subscription is active. */
  add(room: string, peer: Peer): Promise<void> {
    let state = this.#rooms.get(room);
    if (state === undefined) {
      const deliver = this.#deliver;
      const subscription = this.#broker
        .subscribe(roomChannel(room), (data) => deliver(room, data))
        .catch((error: unknown) => {
          this.#onError(error);
          return undefined;
        });
      state = { members: new Set(), subscription, order: new RoomOrder() };
      this.#rooms.set(room, state);
    }
    state.members.add(peer);
    return state.subscription.then(() => undefined);
  }

  /** remove takes `peer` out of `room`; the last member's removal ends the subscription. */
  remove(room: string, peer: Peer): void {
    const state = this.#rooms.get(room);
    if (state === undefined || !state.members.delete(peer) || state.members.size > 0) return;
    this.#rooms.delete(room);
    state.order.reset();
    const done: Promise<void> = state.subscription
      .then((s) => s?.unsubscribe())
      .catch(this.#onError)
      .finally(() => this.#unsubscribing.delete(done));
    this.#unsubscribing.add(done);
  }

  /** members returns the local members of `room` (an empty set when none); do not modify it. */
  members(room: string): ReadonlySet<Peer> {
    return this.#rooms.get(room)?.members ?? EMPTY;
  }

  /** state returns `room`'s state while it has local members (undefined otherwise). */
  state(room: string): RoomState | undefined {
    return this.#rooms.get(room);
  }

  /** states lists the rooms with local members. */
  states(): Array<[string, RoomState]> {
    return [...this.#rooms];
  }

  /** size is the number of rooms with local members. */
  get size(): number {
    return this.#rooms.size;
  }

  /** clear ends every subscription and waits for those being ended. */
  async clear(): Promise<void> {
    const states = [...this.#rooms.values()];
    this.#rooms.clear();
    for (const state of states) state.order.reset();
    await Promise.all([
      ...states.map((s) => s.subscription.then((sub) => sub?.unsubscribe()).catch(this.#onError)),
      ...this.#unsubscribing,
    ]);
  }
}

const EMPTY: ReadonlySet<Peer> = new Set();
