// Test doubles for the SDK's unit tests: a hand-driven clock, a scriptable WHATWG-like WebSocket, a fake browser
// environment (online/offline, visibility) and a seeded random source.
import type { Clock } from '../../src/sdk/clock.js';
import type { EnvironmentLike, WebSocketLike } from '../../src/sdk/reconnecting-socket.js';

/** FakeClock runs timers only when the test advances time. */
export class FakeClock implements Clock {
  #now = 1_000_000;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void; seq: number }>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn, seq: id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** pending is the number of armed timers. */
  get pending(): number {
    return this.#timers.size;
  }

  /** advance moves time forward by `ms`, running due timers in time order (timers they arm run too when due). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      let next: [number, { at: number; fn: () => void; seq: number }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}

type Listener = (event: Event) => void;

/** FakeWebSocket records what the SDK does and lets the test play the server. */
export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];
  static reset(): void {
    FakeWebSocket.instances = [];
  }
  static get last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (ws === undefined) throw new Error('no FakeWebSocket was made');
    return ws;
  }

  readyState = 0;
  bufferedAmount = 0;
  readonly url: string;
  readonly protocols: string | string[] | undefined;
  readonly sent: string[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;
  #listeners = new Map<string, Set<Listener>>();

  constructor(url: string, protocols?: string | string[]) {
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError');
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  listenerCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  #fire(type: string, event: object): void {
    for (const l of [...(this.#listeners.get(type) ?? [])]) l(event as Event);
  }

  /** open plays a successful handshake. */
  open(): void {
    this.readyState = 1;
    this.#fire('open', {});
  }

  /** receive plays a server text message (objects are JSON-encoded). */
  receive(message: object | string): void {
    this.#fire('message', { data: typeof message === 'string' ? message : JSON.stringify(message) });
  }

  /** serverClose plays the connection closing with `code`. */
  serverClose(code: number, reason = '', wasClean = code !== 1006): void {
    this.readyState = 3;
    if (code === 1006) this.#fire('error', {});
    this.#fire('close', { code, reason, wasClean });
  }

  /** sentJson returns the sent messages parsed. */
  sentJson(): Array<Record<string, unknown>> {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

/** FakeEnvironment plays the browser's online/offline and visibility signals. */
export class FakeEnvironment implements EnvironmentLike {
  online = true;
  visible = true;
  #listeners = new Map<string, Set<() => void>>();

  addEventListener(type: string, listener: () => void): void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: () => void): void {
    this.#listeners.get(type)?.delete(listener);
  }

  isOnline(): boolean {
    return this.online;
  }

  isVisible(): boolean {
    return this.visible;
  }

  count(type: string): number {
    return this.#listeners.get(type)?.size ?? 0;
  }

  fire(type: 'online' | 'offline' | 'visibilitychange'): void {
    if (type === 'online') this.online = true;
    if (type === 'offline') this.online = false;
    for (const l of [...(this.#listeners.get(type) ?? [])]) l();
  }
}
