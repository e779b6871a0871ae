// Emitter: the SDK's small typed event emitter.
// It works the same in browsers and Node (no `node:events`, no DOM `EventTarget` subclassing), so the SDK bundles
// without shims. It does not support `once` ordering guarantees across listeners beyond insertion order, wildcard
// events or async listeners: a listener that throws is reported to `onListenerError` and the others still run.

/** Listener is a function called with an event's payload. */
export type Listener<T> = (payload: T) => void;

/**
 * Emitter dispatches typed events to listeners in the order they were added.
 * `Events` maps each event name to its payload type.
 */
export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>();
  /** Called when a listener throws; defaults to rethrowing on a later task so the error is not lost. */
  onListenerError: (error: unknown) => void = (error) => {
    setTimeout(() => {
      throw error;
    }, 0);
  };

  /** on adds a listener and returns a function that removes it. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(type, listener);
  }

  /** once adds a listener that runs for the next event only; it returns a function that removes it. */
  once<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(type, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** off removes a listener added with `on`. */
  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(type)?.delete(listener as Listener<never>);
  }

  /** emit calls every listener of `type` with `payload`. */
  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const set = this.#listeners.get(type);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** listenerCount says how many listeners `type` has. */
  listenerCount(type: keyof Events): number {
    return this.#listeners.get(type)?.size ?? 0;
  }
}
