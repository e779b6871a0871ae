// ReconnectingSocket: one logical connection kept alive over a series of WHATWG WebSockets.
// It owns the reconnect state machine (connecting → open → reconnecting { attempt, delayMs } → … → closed { reason }),
// the backoff schedule (backoff.ts), the close policy (close-policy.ts), dead-link detection and the browser's
// `online`/`offline`/`visibilitychange` signals. It speaks text messages only and knows nothing of the chat protocol:
// the heartbeat probe it sends when the link is quiet is given to it (`heartbeat.probe`), and the chat client tells it
// the server's announced interval (`setHeartbeatInterval`). It does not queue messages while disconnected (outbox.ts).
//
// Why an application heartbeat: RFC 6455 §5.5.2 pings are answered by the browser itself and are invisible to page
// scripts, which can neither send nor observe them; a page learns that a link is dead only by an application message
// not arriving. So: no message for `intervalMs` → send the probe; still nothing after `timeoutMs` → the link is dead.

import { Backoff, type BackoffOptions } from './backoff.js';
import { decideClose, type CloseDecision, type ClosePolicyTable } from './close-policy.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { Emitter } from './emitter.js';

/** WebSocketLike is the part of a WHATWG WebSocket the SDK uses (the browser's, ws's, or hayate/node's). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: Event) => void): void;
  removeEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: Event) => void): void;
}

/** WebSocketConstructor makes a WebSocketLike: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** ConnectTarget is where one attempt connects: the URL and the subprotocols to offer. */
export interface ConnectTarget {
  readonly url: string;
  readonly protocols?: string | string[];
}

/**
 * UrlSource is a fixed URL, or a function called before every attempt that returns the URL (or URL and subprotocols),
 * e.g. to put a fresh token in it.
 */
export type UrlSource = string | (() => string | ConnectTarget | Promise<string | ConnectTarget>);

/** CloseInfo describes one WebSocket closing: the code, the peer's reason text, and what the policy decided. */
export interface CloseInfo extends CloseDecision {
  readonly wasClean: boolean;
}

/** ConnectionState is where the connection is; `reconnecting` says which attempt comes next and when. */
export type ConnectionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'open' }
  | {
      readonly kind: 'reconnecting';
      readonly attempt: number;
      readonly delayMs: number;
      /** Clock time (ms) of the next attempt. */
      readonly retryAt: number;
      readonly lastClose: CloseInfo | null;
    }
  | { readonly kind: 'offline' }
  | { readonly kind: 'closed'; readonly reason: string; readonly code: number | null; readonly lastClose: CloseInfo | null };

/** ReconnectingSocketEvents are the events a ReconnectingSocket emits. */
export interface ReconnectingSocketEvents {
  /** The state changed. */
  state: ConnectionState;
  /** A WebSocket opened (the state is `open`). */
  open: undefined;
  /** A text message arrived. */
  message: string;
  /** A WebSocket closed or was given up as dead; `action` says what happens next. */
  close: CloseInfo;
  /** Something failed without closing by itself (a URL source threw, a send threw). */
  error: Error;
}

/** EnvironmentLike is the part of `window`/`document`/`navigator` used for online/offline and visibility signals. */
export interface EnvironmentLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  /** `navigator.onLine`; undefined when unknown. */
  isOnline(): boolean | undefined;
  /** `document.visibilityState === 'visible'`; undefined when unknown. */
  isVisible(): boolean | undefined;
  /** The target `visibilitychange` fires on (document); default the same object. */
  visibilityTarget?: { addEventListener(type: string, l: () => void): void; removeEventListener(type: string, l: () => void): void };
}

/** HeartbeatOptions configures dead-link detection. */
export interface HeartbeatOptions {
  /** Quiet time after which the probe is sent, in ms; replaced by `setHeartbeatInterval`. Default 30 000. */
  intervalMs?: number;
  /** Time to wait for any message after the probe before the link counts as dead, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Makes the probe message (the chat client sends `{"type":"ping"}`); none means "reconnect without probing". */
  probe?: () => string;
}

/** ReconnectingSocketOptions configures a ReconnectingSocket. */
export interface ReconnectingSocketOptions {
  /** Where to connect; a function is called before every attempt. Required. */
  url: UrlSource;
  /** WebSocket subprotocols to offer. Default none. */
  protocols?: string | string[];
  /** The WebSocket class. Default `globalThis.WebSocket` (browsers; Node must pass one in). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delay schedule. Default `new Backoff()` (500 ms window doubling to 30 s, reset after 10 s up). */
  backoff?: Backoff | BackoffOptions;
  /** Close-code overrides merged over `defaultClosePolicy`. Default none. */
  closePolicy?: ClosePolicyTable;
  /** Time allowed for a WebSocket to open, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * Consecutive attempts that never reached `open` after which the socket stops with "cannot connect" (a bad token
   * is refused at the handshake, which browsers report only as 1006). Default 20.
   */
  maxFailedAttempts?: number;
  /** Dead-link detection. Default 30 s interval, 10 s timeout, no probe. */
  heartbeat?: HeartbeatOptions;
  /** Time source and timers. Default `systemClock`. */
  clock?: Clock;
  /** online/offline and visibility source; `null` disables it. Default the browser's window/document when present. */
  environment?: EnvironmentLike | null;
}

/** browserEnvironment returns the browser's window/document/navigator as an EnvironmentLike, or null outside one. */
export function browserEnvironment(): EnvironmentLike | null {
  const g = globalThis as unknown as {
    addEventListener?: (t: string, l: () => void) => void;
    removeEventListener?: (t: string, l: () => void) => void;
    navigator?: { onLine?: boolean };
    document?: { visibilityState?: string; addEventListener(t: string, l: () => void): void; removeEventListener(t: string, l: () => void): void };
  };
  if (typeof g.addEventListener !== 'function' || typeof g.removeEventListener !== 'function') return null;
  const add = g.addEventListener.bind(g);
  const remove = g.removeEventListener.bind(g);
  return {
    addEventListener: add,
    removeEventListener: remove,
    isOnline: () => (typeof g.navigator?.onLine === 'boolean' ? g.navigator.onLine : undefined),
    isVisible: () => (g.document?.visibilityState === undefined ? undefined : g.document.visibilityState === 'visible'),
    ...(g.document !== undefined ? { visibilityTarget: g.document } : {}),
  };
}

type TimerName = 'retry' | 'connect' | 'idle' | 'stable';

const OPEN = 1;
/**
 * Close code the SDK sends when it abandons a dead link or a stuck handshake (4000-4999 are the only codes besides
 * 1000 a browser may send; the frame rarely arrives on a dead link, and the server treats it as any unknown code).
 */
const HEARTBEAT_TIMEOUT = 4000;

/**
 * ReconnectingSocket keeps one logical text connection open across WebSocket failures: it reconnects with
 * backoff after unclean closes, obeys the close policy, detects dead links and follows the browser's online state.
 */
export class ReconnectingSocket extends Emitter<ReconnectingSocketEvents> {
  #url: UrlSource;
  #protocols: string | string[] | undefined;
  #WebSocket: WebSocketConstructor;
  #backoff: Backoff;
  #policy: ClosePolicyTable | undefined;
  #connectTimeoutMs: number;
  #maxFailedAttempts: number;
  /** Attempts since the last `open` that failed before opening. */
  #failedAttempts = 0;
  #openedThisAttempt = false;
  #heartbeatIntervalMs: number;
  #heartbeatTimeoutMs: number;
  #probe: (() => string) | undefined;
  #clock: Clock;
  #env: EnvironmentLike | null;

  #state: ConnectionState = { kind: 'idle' };
  #ws: WebSocketLike | null = null;
  #detach: (() => void) | null = null;
  /** Bumped on every new attempt and on disconnect; async work from an older generation is ignored. */
  #generation = 0;
  #attempt = 0;
  #reauthStreak = 0;
  /** One-shot timers: the next attempt, the handshake deadline, the quiet/probe deadline, the backoff reset. */
  #timers: Record<TimerName, TimerHandle | null> = { retry: null, connect: null, idle: null, stable: null };
  #probing = false;
  #envListeners: Array<[target: 'window' | 'document', type: string, fn: () => void]> = [];

  constructor(options: ReconnectingSocketOptions) {
    super();
    this.#url = options.url;
    this.#protocols = options.protocols;
    const ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (ctor === undefined) throw new TypeError('No WebSocket class: pass options.WebSocket outside a browser');
    this.#WebSocket = ctor;
    this.#backoff = options.backoff instanceof Backoff ? options.backoff : new Backoff(options.backoff);
    this.#policy = options.closePolicy;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#maxFailedAttempts = options.maxFailedAttempts ?? 20;
    this.#heartbeatIntervalMs = options.heartbeat?.intervalMs ?? 30_000;
    this.#heartbeatTimeoutMs = options.heartbeat?.timeoutMs ?? 10_000;
    this.#probe = options.heartbeat?.probe;
    this.#clock = options.clock ?? systemClock;
    this.#env = options.environment === undefined ? browserEnvironment() : options.environment;
  }

  /** state is the current connection state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** bufferedAmount is the current WebSocket's unsent bytes (0 when none). */
  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  /** connect starts connecting (from `idle` or `closed`); it does nothing while already connecting or open. */
  connect(): void {
    const kind = this.#state.kind;
    if (kind !== 'idle' && kind !== 'closed') return;
    this.#attempt = 0;
    this.#reauthStreak = 0;
    this.#failedAttempts = 0;
    this.#backoff.reset();
    this.#listenEnvironment();
    if (this.#env?.isOnline() === false) {
      this.#setState({ kind: 'offline' });
      return;
    }
    void this.#open();
  }

  /**
   * disconnect closes the connection with `code` (default 1000) and stays closed: no reconnect follows.
   * The state becomes `closed` with reason "disconnect() was called".
   */
  disconnect(code = 1000, reason = ''): void {
    if (this.#state.kind === 'closed' || this.#state.kind === 'idle') return;
    const ws = this.#ws;
    this.#teardown();
    if (ws !== null) {
      try {
        ws.close(code, reason);
      } catch (error) {
        this.emit('error', toError(error));
      }
    }
    this.#unlistenEnvironment();
    const decision = decideClose(code, reason, { byClient: true });
    this.#setState({ kind: 'closed', reason: decision.reason, code, lastClose: null });
  }

  /** send writes a text message on the open WebSocket and returns true, or returns false when none is open. */
  send(data: string): boolean {
    const ws = this.#ws;
    if (ws === null || this.#state.kind !== 'open' || ws.readyState !== OPEN) return false;
    try {
      ws.send(data);
      return true;
    } catch (error) {
      this.emit('error', toError(error));
      return false;
    }
  }

  /** setHeartbeatInterval sets the quiet time before a probe (the chat client passes the server's `heartbeatMs`). */
  setHeartbeatInterval(intervalMs: number, timeoutMs?: number): void {
    if (intervalMs > 0) this.#heartbeatIntervalMs = intervalMs;
    if (timeoutMs !== undefined && timeoutMs > 0) this.#heartbeatTimeoutMs = timeoutMs;
    if (this.#state.kind === 'open' && !this.#probing) this.#armIdle();
  }

  /** checkLink sends the probe now and drops the link if nothing arrives within the heartbeat timeout. */
  checkLink(): void {
    if (this.#state.kind !== 'open') return;
    this.#sendProbe();
  }

  /** reconnectNow skips the remaining backoff delay (or drops the current link and reconnects at once). */
  reconnectNow(): void {
    const kind = this.#state.kind;
    if (kind === 'reconnecting' || kind === 'offline') {
      this.#clearTimer('retry');
      void this.#open();
    } else if (kind === 'open' || kind === 'connecting') {
      this.#abandon(HEARTBEAT_TIMEOUT, 'reconnect requested', { retryNow: true });
    }
  }

  async #open(): Promise<void> {
    const generation = ++this.#generation;
    this.#attempt += 1;
    this.#openedThisAttempt = false;
    this.#setState({ kind: 'connecting', attempt: this.#attempt });
    let target: ConnectTarget;
    try {
      const source = typeof this.#url === 'string' ? this.#url : await this.#url();
      target = typeof source === 'string' ? { url: source, protocols: this.#protocols } : source;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.emit('error', toError(error));
      this.#afterClose({ code: 1006, closeReason: '', wasClean: false, action: 'retry', reason: 'could not get the URL (token) to connect with' });
      return;
    }
    if (generation !== this.#generation) return;
    let ws: WebSocketLike;
    try {
      ws = target.protocols === undefined ? new this.#WebSocket(target.url) : new this.#WebSocket(target.url, target.protocols);
    } catch (error) {
      // A malformed URL or forbidden port throws synchronously (WHATWG "SyntaxError"): retrying cannot help.
      this.emit('error', toError(error));
      this.#teardown();
      this.#unlistenEnvironment();
      this.#setState({ kind: 'closed', reason: `cannot connect: ${toError(error).message}`, code: null, lastClose: null });
      return;
    }
    this.#ws = ws;
    const onOpen = (): void => this.#handleOpen(ws);
    const onMessage = (event: Event): void => this.#handleMessage(ws, (event as MessageEvent).data);
    const onClose = (event: Event): void => {
      const { code, reason, wasClean } = event as CloseEvent;
      this.#handleClose(ws, code, reason, wasClean);
    };
    const onError = (): void => {
      // WHATWG: an `error` event is always followed by `close`; the close carries the information.
    };
    ws.addEventListener('open', onOpen);
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', onClose);
    ws.addEventListener('error', onError);
    this.#detach = () => {
      ws.removeEventListener('open', onOpen);
      ws.removeEventListener('message', onMessage);
      ws.removeEventListener('close', onClose);
      ws.removeEventListener('error', onError);
    };
    this.#setTimer('connect', () => {
      this.#abandon(HEARTBEAT_TIMEOUT, `no connection within ${this.#connectTimeoutMs} ms`);
    }, this.#connectTimeoutMs);
  }

  #handleOpen(ws: WebSocketLike): void {
    if (ws !== this.#ws) return;
    this.#clearTimer('connect');
    this.#openedThisAttempt = true;
    this.#failedAttempts = 0;
    this.#setState({ kind: 'open' });
    this.#setTimer('stable', () => {
      this.#backoff.reset();
      this.#attempt = 0;
      this.#reauthStreak = 0;
    }, this.#backoff.resetAfterMs);
    this.#probing = false;
    this.#armIdle();
    this.emit('open', undefined);
  }

  #handleMessage(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws) return;
    this.#probing = false;
    this.#armIdle();
    if (typeof data === 'string') this.emit('message', data);
    // Binary frames are not part of the chat protocol; they still count as signs of life.
  }

  #handleClose(ws: WebSocketLike, code: number, reason: string, wasClean: boolean): void {
    if (ws !== this.#ws) return;
    const decision = decideClose(code, reason, { policy: this.#policy });
    this.#teardown();
    this.#afterClose({ ...decision, wasClean });
  }

  /** Gives up on the current WebSocket without waiting for its close event (a dead link may never deliver one). */
  #abandon(code: number, reason: string, options: { retryNow?: boolean } = {}): void {
    const ws = this.#ws;
    this.#teardown();
    if (ws !== null) {
      try {
        ws.close(code, reason.slice(0, 120));
      } catch (_error) {
        // Closing a socket that is still connecting may throw in some implementations; it is abandoned either way.
      }
    }
    const info: CloseInfo = { code: 1006, closeReason: '', wasClean: false, action: 'retry', reason };
    if (options.retryNow === true) {
      this.emit('close', info);
      void this.#open();
      return;
    }
    this.#afterClose(info);
  }

  #afterClose(info: CloseInfo): void {
    let action = info.action;
    let reason = info.reason;
    if (!this.#openedThisAttempt) {
      this.#failedAttempts += 1;
      if (action !== 'stop' && this.#failedAttempts >= this.#maxFailedAttempts) {
        action = 'stop';
        reason = `cannot connect: ${this.#failedAttempts} attempts in a row failed (last: ${info.reason})`;
      }
    }
    if (action === 'reauth') {
      this.#reauthStreak += 1;
      if (typeof this.#url === 'string') {
        action = 'stop';
        reason = `${info.reason}; no token source to re-authenticate with (pass url as a function)`;
      } else if (this.#reauthStreak > 2) {
        action = 'stop';
        reason = `${info.reason}; re-authentication failed ${this.#reauthStreak - 1} times`;
      }
    }
    const finalInfo: CloseInfo = { ...info, action, reason };
    this.emit('close', finalInfo);
    if (action === 'stop') {
      this.#unlistenEnvironment();
      this.#setState({ kind: 'closed', reason, code: info.code, lastClose: finalInfo });
      return;
    }
    this.#schedule(finalInfo);
  }

  #schedule(lastClose: CloseInfo | null): void {
    if (this.#env?.isOnline() === false) {
      this.#setState({ kind: 'offline' });
      return;
    }
    let delayMs = this.#backoff.next();
    if (lastClose?.minDelayMs !== undefined) delayMs = Math.max(delayMs, lastClose.minDelayMs);
    const retryAt = this.#clock.now() + delayMs;
    this.#setTimer('retry', () => void this.#open(), delayMs);
    this.#setState({ kind: 'reconnecting', attempt: this.#attempt + 1, delayMs, retryAt, lastClose });
  }

  #armIdle(): void {
    this.#setTimer('idle', () => {
      if (this.#probe === undefined) {
        this.#abandon(HEARTBEAT_TIMEOUT, `no message from the server within ${this.#heartbeatIntervalMs} ms`);
      } else {
        this.#sendProbe();
      }
    }, this.#heartbeatIntervalMs);
  }

  #sendProbe(): void {
    this.#clearTimer('idle');
    this.#probing = true;
    if (this.#probe !== undefined) this.send(this.#probe());
    const waited = this.#heartbeatTimeoutMs;
    this.#setTimer('idle', () => {
      this.#abandon(HEARTBEAT_TIMEOUT, `no answer from the server within ${waited} ms of a heartbeat`);
    }, waited);
  }

  /** Detaches and forgets the current WebSocket and every timer tied to it. */
  #teardown(): void {
    this.#generation += 1;
    this.#detach?.();
    this.#detach = null;
    this.#ws = null;
    this.#probing = false;
    this.#clearTimer('connect');
    this.#clearTimer('idle');
    this.#clearTimer('stable');
    this.#clearTimer('retry');
  }

  #setTimer(which: TimerName, fn: () => void, ms: number): void {
    this.#clearTimer(which);
    this.#timers[which] = this.#clock.setTimeout(() => {
      this.#timers[which] = null;
      fn();
    }, ms);
  }

  #clearTimer(which: TimerName): void {
    const handle = this.#timers[which];
    this.#timers[which] = null;
    if (handle !== null) this.#clock.clearTimeout(handle);
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.emit('state', state);
  }

  #listenEnvironment(): void {
    const env = this.#env;
    if (env === null || this.#envListeners.length > 0) return;
    const onOffline = (): void => {
      const kind = this.#state.kind;
      if (kind === 'closed' || kind === 'idle' || kind === 'offline') return;
      const ws = this.#ws;
      this.#teardown();
      if (ws !== null) {
        try {
          ws.close(HEARTBEAT_TIMEOUT, 'offline');
        } catch (_error) {
          // abandoned either way
        }
        this.emit('close', { code: 1006, closeReason: '', wasClean: false, action: 'retry', reason: 'the browser went offline' });
      }
      this.#setState({ kind: 'offline' });
    };
    const onOnline = (): void => {
      const kind = this.#state.kind;
      if (kind === 'offline' || kind === 'reconnecting') {
        this.#clearTimer('retry');
        void this.#open();
      }
    };
    const onVisibility = (): void => {
      if (env.isVisible() !== true) return;
      const kind = this.#state.kind;
      if (kind === 'reconnecting') {
        this.#clearTimer('retry');
        void this.#open();
      } else if (kind === 'open' && !this.#probing) {
        // Timers are throttled in hidden tabs: check the link as soon as the page is looked at again.
        this.#sendProbe();
      }
    };
    env.addEventListener('offline', onOffline);
    env.addEventListener('online', onOnline);
    (env.visibilityTarget ?? env).addEventListener('visibilitychange', onVisibility);
    this.#envListeners = [
      ['window', 'offline', onOffline],
      ['window', 'online', onOnline],
      ['document', 'visibilitychange', onVisibility],
    ];
  }

  #unlistenEnvironment(): void {
    const env = this.#env;
    if (env === null) return;
    for (const [target, type, fn] of this.#envListeners) {
      (target === 'document' ? env.visibilityTarget ?? env : env).removeEventListener(type, fn);
    }
    this.#envListeners = [];
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
