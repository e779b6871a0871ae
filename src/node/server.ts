// WebSocketServer: the ws-compatible Node server. Accepts upgrades from Node's own HTTP parser (the `upgrade` event,
// never a hand-written parser), runs the opening handshake's policy (path, origin, accept hook, subprotocol,
// extensions), writes the 101 and hands the socket to a Connection. Three ways to run, as ws: its own port, attached to
// an existing http(s).Server (several servers on different paths of one HTTP server), or `noServer` + `handleUpgrade`.
//
// RFC 6455 sections: §4.2.1-4.2.2 (the server's handshake: the request rules are judged by the core's
// `validateClientRequest`, the 101 built by `buildAcceptHeaders`), §10.2 (Origin: `allowedOrigins`), §5.5.2 (the
// heartbeat, keepalive.ts).
//
// Protections: a handshake timeout on the raw socket until the 101 (plus Node's `headersTimeout`/`requestTimeout` on
// servers it creates, so a header trickled byte by byte or never finished is cut), header size bounded by Node's
// `maxHeaderSize`, sockets that error during the handshake destroyed, hooks that throw answered with 500; nothing here
// throws into the event loop.
//
// What it does not do: TLS (attach to an https.Server), HTTP routing beyond `path`, authentication itself (the
// `accept` hook is where the realtime layer checks a token).
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  buildAcceptHeaders,
  buildHttpResponse,
  negotiatePerMessageDeflate,
  prepareMessage,
  validateClientRequest,
  WebSocketProtocol,
  type PerMessageDeflateOptions,
  type PreparedMessage,
  type ProtocolOptions,
} from '../protocol/index.js';
import { Connection } from './connection.js';
import { sharedDeadlines, type Deadline } from './deadline-timer.js';
import { DEFAULT_HEARTBEAT_INTERVAL, Heartbeat } from './keepalive.js';

/** DEFAULT_HANDSHAKE_TIMEOUT is how long (ms) a socket may take from TCP accept (own server) or upgrade to the 101. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** AcceptInfo is what the `accept` hook sees of an upgrade request, before any upgrade. */
export interface AcceptInfo {
  /** The Node request. */
  request: IncomingMessage;
  /** The path without the query string. */
  path: string;
  /** The parsed query string. */
  query: URLSearchParams;
  /** The request headers (lowercase names). */
  headers: IncomingHttpHeaders;
  /** The `Origin` header, if any (browsers always send it). */
  origin: string | undefined;
  /** The peer's IP address. */
  remoteAddress: string | undefined;
}

/** AcceptRejection refuses an upgrade with an HTTP status (e.g. 401), optional headers and body. */
export interface AcceptRejection {
  /** HTTP status, e.g. 401, 403, 429. */
  status: number;
  /** Response headers; default none (`Connection: close` and `Content-Length` are added). */
  headers?: Record<string, string | number | readonly string[]>;
  /** Response body; default none. A string body is sent as `text/plain; charset=utf-8`. */
  body?: string | Buffer;
}

/** AcceptResult is the `accept` hook's answer: `true` accepts, `false` refuses with 401, a rejection refuses as said. */
export type AcceptResult = boolean | AcceptRejection;

/** AcceptHook decides, before any upgrade, whether a request may become a WebSocket. */
export type AcceptHook = (info: AcceptInfo) => AcceptResult | Promise<AcceptResult>;

/** VerifyClientInfo is ws's `verifyClient` argument. */
export interface VerifyClientInfo {
  /** The `Origin` header, if any. */
  origin: string | undefined;
  /** Whether the request came over TLS. */
  secure: boolean;
  /** The Node request. */
  req: IncomingMessage;
}

/** VerifyClientDone is the async `verifyClient`'s answer: accept, or refuse with a status, message and headers. */
export type VerifyClientDone = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

/**
 * VerifyClient is ws's hook: sync `(info) => boolean`, or async `(info, done) => void` (told apart, as ws does, by the
 * number of declared parameters).
 */
export type VerifyClient = (info: VerifyClientInfo, done: VerifyClientDone) => boolean | void;

/** HandleProtocols picks one of the offered subprotocols (in the client's order), or `false` for none. */
export type HandleProtocols = (protocols: Set<string>, request: IncomingMessage) => string | false;

/** WebSocketServerOptions configures a {@link WebSocketServer}; exactly one of `port`, `server`, `noServer` is required. */
export interface WebSocketServerOptions {
  /** Port to listen on with a server of our own (0 picks a free one). */
  port?: number;
  /** Host to bind with `port`; default: Node's default (all interfaces). */
  host?: string;
  /** listen backlog with `port`; default Node's. */
  backlog?: number;
  /** An existing http.Server or https.Server to attach to. */
  server?: HttpServer | HttpsServer;
  /** Do not listen; the caller calls `handleUpgrade()`. Default false. */
  noServer?: boolean;
  /** Accept only this path (the query string is ignored); default: every path. */
  path?: string;
  /** Largest message in bytes (after reassembly and inflation); default: the core's (100 MiB). */
  maxPayload?: number;
  /** Subprotocol choice; default: the client's first offer. */
  handleProtocols?: HandleProtocols;
  /** Async accept hook, run before any upgrade (auth); default: accept. */
  accept?: AcceptHook;
  /** ws's `verifyClient`, for code moving from ws; default none. Runs after `accept`. */
  verifyClient?: VerifyClient;
  /** Origins allowed (exact `Origin` values); others get 403. Requests without Origin (non-browsers) pass. Default: all. */
  allowedOrigins?: readonly string[];
  /** permessage-deflate options (RFC 7692), or `true` for the defaults; default `false` (no extension). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Keep a `clients` Set; default true. */
  clientTracking?: boolean;
  /** Heartbeat round period in ms; default 30 000; 0 turns the timer off (`heartbeat.runRound()` still works). */
  heartbeatInterval?: number;
  /** Milliseconds until the 101 is sent, else the socket is destroyed; default 10 000. */
  handshakeTimeout?: number;
  /** Close timeout of each connection (ms); default 30 000. */
  closeTimeout?: number;
  /** Idle timeout of each connection (ms); default 0 (off). */
  idleTimeout?: number;
  /** Socket bytes waiting to be written above which a connection stops reading (see ConnectionOptions); default 1 MiB. */
  readPauseBytes?: number;
  /** Most open connections; further upgrades get 503. Default: unbounded. */
  maxConnections?: number;
  /** Largest HTTP header block for a server of our own (Node's `maxHeaderSize`); default Node's (16 KiB). */
  maxHeaderSize?: number;
}

/** UpgradeCallback receives the new connection once the 101 was written. */
export type UpgradeCallback = (connection: Connection, request: IncomingMessage) => void;


const kHandled = Symbol('hayate.upgradeHandled');
type MarkedRequest = IncomingMessage & { [kHandled]?: boolean };

// On a server of our own the handshake deadline starts at TCP accept: Node's headersTimeout only watches connections
// that sent a first byte, so a socket that never sends a request would otherwise be held forever.
const kDeadline = Symbol('hayate.handshakeDeadline');
type TimedSocket = Duplex & { [kDeadline]?: Deadline | null };

function takeDeadline(socket: Duplex): Deadline | null {
  const timed = socket as TimedSocket;
  const deadline = timed[kDeadline] ?? null;
  if (deadline !== null) {
    timed[kDeadline] = null;
    socket.removeListener('close', cancelSocketDeadline);
  }
  return deadline;
}

function cancelSocketDeadline(this: Duplex): void {
  sharedDeadlines.cancel(takeDeadline(this));
}

function onRequest(request: IncomingMessage): void {
  // A plain HTTP request: from here on Node's own request timeouts apply.
  sharedDeadlines.cancel(takeDeadline(request.socket));
}

function noop(): void {}

function destroyThis(this: Duplex): void {
  this.destroy();
}

function destroyTarget(target: Duplex): void {
  target.destroy();
}

function pathOf(url: string | undefined): { path: string; query: string } {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? { path: u, query: '' } : { path: u.slice(0, q), query: u.slice(q + 1) };
}

/** abortHandshake answers an upgrade request with an HTTP error and closes the socket. */
function abortHandshake(socket: Duplex, status: number, headers?: AcceptRejection['headers'], body?: string | Buffer): void {
  if (socket.destroyed) return;
  // A peer that resets while the answer is written must not leave an unheard 'error' (the handshake's own listener is
  // there only if it waited for a hook).
  if (!socket.listeners('error').includes(destroyThis)) socket.on('error', destroyThis);
  socket.once('finish', destroyThis);
  let bytes: Buffer;
  try {
    bytes = buildHttpResponse({ status, headers: headers ?? {}, body: body ?? undefined });
  } catch {
    bytes = buildHttpResponse({ status: 500 });
  }
  if (socket.writable) socket.end(bytes);
  else socket.destroy();
}

/**
 * WebSocketServer accepts WebSocket connections, ws-style. Events: `connection(conn, request)`, `listening`, `error`,
 * `headers(lines, request)` (the 101's header lines, mutable), `rejection(status, request)` (an upgrade refused with
 * that HTTP status, by the handshake rules or the accept hook, after the response was written), `close`. A ws user
 * changes the import and little else.
 */
export class WebSocketServer extends EventEmitter {
  /** options are the resolved options. */
  readonly options: Readonly<WebSocketServerOptions>;
  /** heartbeat is the server's keep-alive; tests call `heartbeat.runRound()` to run a round without waiting. */
  readonly heartbeat: Heartbeat;

  #server: HttpServer | HttpsServer | null = null;
  #ownServer = false;
  #connections = new Set<Connection>();
  #tracking: boolean;
  #state: 'running' | 'closing' | 'closed' = 'running';
  #closeWaiters: ((err?: Error) => void)[] = [];

  /** WebSocketServer starts listening (with `port`), attaches (with `server`) or waits for `handleUpgrade` (noServer). */
  constructor(options: WebSocketServerOptions, callback?: () => void) {
    super();
    const ways = Number(options.port !== undefined) + Number(options.server !== undefined) + Number(options.noServer === true);
    if (ways !== 1) throw new TypeError('exactly one of the "port", "server" and "noServer" options must be given');
    const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.options = { ...options, handshakeTimeout };
    this.#tracking = options.clientTracking !== false;
    this.heartbeat = new Heartbeat({ interval: options.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL, targets: this.#connections });

    if (options.port !== undefined) {
      const server = createServer(
        {
          maxHeaderSize: options.maxHeaderSize,
          // The header phase of the handshake is Node's: bound it by the handshake timeout.
          headersTimeout: handshakeTimeout,
          requestTimeout: handshakeTimeout,
          connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(handshakeTimeout / 4))),
          keepAliveTimeout: Math.min(5000, handshakeTimeout),
        },
        (_req, res) => {
          // RFC 6455 §4.2.2 / RFC 9110 §15.5.22: a plain HTTP request to a WebSocket endpoint.
          const body = 'Upgrade Required';
          res.writeHead(426, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket' });
          res.end(body);
        },
      );
      server.on('connection', (socket: Socket) => {
        (socket as TimedSocket)[kDeadline] = sharedDeadlines.schedule(handshakeTimeout, destroyTarget, socket);
        socket.once('close', cancelSocketDeadline);
      });
      server.on('request', onRequest);
      this.#server = server;
      this.#ownServer = true;
      server.listen(options.port, options.host, options.backlog);
    } else if (options.server !== undefined) {
      this.#server = options.server;
    }
    if (this.#server !== null) {
      const server = this.#server;
      server.on('listening', this.#onListening);
      server.on('error', this.#onError);
      server.on('upgrade', this.#onUpgrade);
    }
    if (callback !== undefined) this.on('listening', callback);
    if (this.heartbeat.interval > 0) this.heartbeat.start();
  }

  /** clients is the set of open connections when `clientTracking` is on (the default), else undefined. */
  get clients(): Set<Connection> {
    return (this.#tracking ? this.#connections : undefined) as Set<Connection>;
  }

  /** address is the bound address of the underlying HTTP server; throws with `noServer`. */
  address(): AddressInfo | string | null {
    if (this.#server === null) throw new Error('The server is operating in "noServer" mode');
    return this.#server.address();
  }

  /** shouldHandle tells whether a request is for this server (its `path`, when one is set). */
  shouldHandle(request: IncomingMessage): boolean {
    if (this.options.path === undefined) return true;
    return pathOf(request.url).path === this.options.path;
  }

  /**
   * prepare frames a message once so a broadcast writes the same bytes to every connection (`conn.send(prepared)`);
   * compressed variants are made once per deflate configuration. `binary` defaults to `false` for strings, `true` for
   * bytes. Bytes are not copied: do not change them afterwards.
   */
  prepare(data: string | Buffer | ArrayBuffer | ArrayBufferView, options: { binary?: boolean } = {}): PreparedMessage {
    return prepareMessage(data, { binary: options.binary ?? typeof data !== 'string' });
  }

  /**
   * handleUpgrade runs the opening handshake on an upgrade request (from Node's `upgrade` event) and calls `cb` with
   * the new Connection once the 101 is written. Refused requests are answered with an HTTP error and closed.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, cb: UpgradeCallback): void {
    // The deadline our own server set when the socket connected, if any. A handshake without accept hooks completes
    // in this call, so only one that waits for a hook needs a deadline (and an error listener) of its own.
    const deadline = takeDeadline(socket);
    try {
      this.#handshake(request, socket, head, cb, deadline);
    } catch {
      this.#fail(request, socket, deadline, 500);
    }
  }

  /**
   * close stops accepting, closes every connection with 1001 (Going Away), closes the HTTP server when it is our own,
   * and emits `close` (then calls `cb`) once all of that is done.
   */
  close(cb?: (err?: Error) => void): void {
    if (this.#state === 'closed') {
      if (cb !== undefined) process.nextTick(cb, new Error('The server is not running'));
      return;
    }
    if (cb !== undefined) this.#closeWaiters.push(cb);
    if (this.#state === 'closing') return;
    this.#state = 'closing';
    this.heartbeat.stop();
    const server = this.#server;
    if (server !== null) {
      server.removeListener('upgrade', this.#onUpgrade);
      server.removeListener('listening', this.#onListening);
    }
    for (const conn of this.#connections) {
      try {
        conn.close(1001, 'server shutting down');
      } catch {
        conn.terminate();
      }
    }
    let pending = 1 + (this.#ownServer ? 1 : 0);
    const done = (): void => {
      if (--pending > 0) return;
      if (server !== null) server.removeListener('error', this.#onError);
      this.#state = 'closed';
      const waiters = this.#closeWaiters;
      this.#closeWaiters = [];
      this.emit('close');
      for (const w of waiters) w();
    };
    if (this.#ownServer && server !== null) server.close(() => done());
    this.#whenEmpty(done);
  }

  #whenEmpty(fn: () => void): void {
    if (this.#connections.size === 0) {
      process.nextTick(fn);
      return;
    }
    let left = this.#connections.size;
    for (const conn of this.#connections) {
      conn.once('close', () => {
        if (--left === 0) fn();
      });
    }
  }

  #onListening = (): void => {
    this.emit('listening');
  };

  #onError = (err: Error): void => {
    this.emit('error', err);
  };

  #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const marked = request as MarkedRequest;
    if (marked[kHandled] === true) return;
    if (!this.shouldHandle(request)) {
      // Several servers may share one HTTP server on different paths: only the last upgrade listener refuses.
      const listeners = this.#server?.listeners('upgrade') ?? [];
      if (listeners[listeners.length - 1] === this.#onUpgrade) {
        abortHandshake(socket, 400, {}, 'no WebSocket endpoint at this path');
        this.emit('rejection', 400, request);
      }
      return;
    }
    marked[kHandled] = true;
    this.handleUpgrade(request, socket, head, this.#emitConnection);
  };

  #emitConnection = (conn: Connection, request: IncomingMessage): void => {
    this.emit('connection', conn, request);
  };

  #fail(request: IncomingMessage, socket: Duplex, deadline: Deadline | null, status: number, headers?: AcceptRejection['headers'], body?: string | Buffer): void {
    sharedDeadlines.cancel(deadline);
    abortHandshake(socket, status, headers, body);
    this.emit('rejection', status, request);
  }

  #handshake(request: IncomingMessage, socket: Duplex, head: Buffer, cb: UpgradeCallback, ownDeadline: Deadline | null): void {
    let deadline = ownDeadline;
    if (this.#state !== 'running') return this.#fail(request, socket, deadline, 503);
    // As ws: a noServer user calling handleUpgrade for a path this server does not serve gets 400.
    if (!this.shouldHandle(request)) return this.#fail(request, socket, deadline, 400, {}, 'no WebSocket endpoint at this path');
    const checked = validateClientRequest({ method: request.method, httpVersion: request.httpVersion, headers: request.headers });
    if (!checked.ok) return this.#fail(request, socket, deadline, checked.status, checked.headers, checked.reason);
    const origin = typeof request.headers.origin === 'string' ? request.headers.origin : undefined;
    // RFC 6455 §10.2: "If the |Origin| value is not accepted, the server SHOULD respond with 403 (Forbidden)"... as a
    // policy: requests without Origin come from non-browser clients, which can send any Origin anyway.
    const allowed = this.options.allowedOrigins;
    if (allowed !== undefined && origin !== undefined && !allowed.includes(origin)) return this.#fail(request, socket, deadline, 403);
    const max = this.options.maxConnections;
    if (max !== undefined && this.#connections.size >= max) return this.#fail(request, socket, deadline, 503);

    const accept = this.options.accept;
    const verify = this.options.verifyClient;
    if (accept === undefined && verify === undefined) {
      return this.#complete(request, socket, head, cb, deadline, checked.key, checked.protocols);
    }
    // From here the handshake waits for the hooks: bound the wait, and let a socket error end it quietly.
    deadline ??= sharedDeadlines.schedule(this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, destroyTarget, socket);
    socket.on('error', destroyThis);
    const { path, query } = pathOf(request.url);
    const info: AcceptInfo = {
      request,
      path,
      query: new URLSearchParams(query),
      headers: request.headers,
      origin,
      remoteAddress: request.socket?.remoteAddress,
    };
    const run = async (): Promise<AcceptRejection | true> => {
      if (accept !== undefined) {
        const result = await accept(info);
        if (result === false) return { status: 401 };
        if (result !== true) return result;
      }
      if (verify !== undefined) {
        const vinfo: VerifyClientInfo = { origin, secure: (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true, req: request };
        if (verify.length >= 2) {
          return new Promise((resolve) => {
            verify(vinfo, (ok, code, message, headers) => resolve(ok ? true : { status: code ?? 401, body: message, headers }));
          });
        }
        if (verify(vinfo, noop) !== true) return { status: 401 };
      }
      return true;
    };
    run().then(
      (result) => {
        if (socket.destroyed) return sharedDeadlines.cancel(deadline);
        if (result !== true) return this.#fail(request, socket, deadline, result.status, result.headers, result.body);
        try {
          this.#complete(request, socket, head, cb, deadline, checked.key, checked.protocols);
        } catch {
          this.#fail(request, socket, deadline, 500);
        }
      },
      () => this.#fail(request, socket, deadline, 500),
    );
  }

  #complete(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: UpgradeCallback,
    deadline: Deadline | null,
    key: string,
    offered: string[],
  ): void {
    if (socket.destroyed || !socket.writable) return sharedDeadlines.cancel(deadline);
    if (this.#state !== 'running') return this.#fail(request, socket, deadline, 503);
    let subprotocol = '';
    if (offered.length > 0) {
      const hook = this.options.handleProtocols;
      const chosen = hook === undefined ? offered[0] : hook(new Set(offered), request);
      // RFC 6455 §4.2.2: the selected value "MUST be one of the values provided by the client".
      if (chosen !== false && offered.includes(chosen)) subprotocol = chosen;
    }
    let extension: ProtocolOptions['extension'] = null;
    let extensionsHeader = '';
    const pmd = this.options.perMessageDeflate;
    if (pmd !== undefined && pmd !== false) {
      // RFC 7692 §5: accept the first acceptable permessage-deflate offer, or go on uncompressed.
      const result = negotiatePerMessageDeflate(request.headers['sec-websocket-extensions'], pmd);
      if (result !== null) {
        extension = result.extension;
        extensionsHeader = result.response;
      }
    }
    const lines = buildAcceptHeaders({ key, protocol: subprotocol || undefined, extensions: extensionsHeader || undefined });
    this.emit('headers', lines, request);
    const protocol = new WebSocketProtocol({
      role: 'server',
      maxPayload: this.options.maxPayload,
      extension,
    });
    sharedDeadlines.cancel(deadline);
    socket.removeListener('error', destroyThis);
    // Written as a latin1 string: the same bytes `Buffer.from(text, 'latin1')` would make, without that Buffer.
    socket.write(`HTTP/1.1 101 Switching Protocols\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const conn = new Connection(socket as Socket, {
      protocol,
      head,
      subprotocol,
      extensions: extensionsHeader,
      closeTimeout: this.options.closeTimeout,
      idleTimeout: this.options.idleTimeout,
      readPauseBytes: this.options.readPauseBytes,
      tracker: this.#connections,
    });
    this.#connections.add(conn);
    cb(conn, request);
  }
}
