// The chat server: the composition that `hayate serve` runs. It wires one HTTP(S) server, our WebSocketServer
// (src/node) on `path`, the realtime Hub (src/realtime) over a Broker, handshake authentication (401 before any
// upgrade), allowed origins and per-user/per-IP limits, plus the HTTP routes `/healthz`, `/metrics` (Prometheus,
// prom-client) and the chat page's static files from web/dist/. Logs are structured (pino) and quiet by default.
// It does not parse arguments or install signal handlers (serve.ts does) and does not know the wire protocol.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { WebSocketServer, type AcceptInfo, type AcceptResult } from '../node/index.js';
import type { PerMessageDeflateOptions } from '../protocol/index.js';
import { createAuthenticator, selectSubprotocol, type AuthOptions, type Identity } from '../realtime/auth.js';
import type { Broker } from '../realtime/broker.js';
import { MemoryBroker } from '../realtime/brokers/memory.js';
import { Hub, type HubOptions } from '../realtime/hub.js';

/**
 * CHAT_DEFLATE is the chat server's permessage-deflate configuration: no context takeover in either direction. The
 * benchmark (docs/decisions/compression-codec.md) shows it cheapest in memory per connection by far: every connection
 * shares one zlib context per direction instead of holding its own (~8 KiB vs ~240 KiB of RSS per connection at
 * 10,000 connections), and a room broadcast is compressed once for all members.
 */
export const CHAT_DEFLATE: PerMessageDeflateOptions = { serverNoContextTakeover: true, clientNoContextTakeover: true };

/** DEFAULT_WEB_ROOT is the built chat page (web/dist/ of the package). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** HubLimits are the Hub options a chat server passes through (docs/limits.md). */
export type HubLimits = Omit<HubOptions, 'broker' | 'prepare' | 'heartbeatMs' | 'observer' | 'logger' | 'now'>;

/** ChatServerOptions configures createChatServer; every field has a default. */
export interface ChatServerOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1` in dev mode, `0.0.0.0` otherwise. */
  host?: string;
  /** WebSocket endpoint path. Default `/ws`. */
  path?: string;
  /** PEM certificate and key: serve HTTPS/WSS. Default: plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** JWT verification and dev mode (see realtime/auth.ts). Default `{}`: tokens required, so set one of them. */
  auth?: AuthOptions;
  /** The broker. Default a new MemoryBroker with `historyLimit`; closed with the server only when created here. */
  broker?: Broker;
  /** Messages retained per room by the default broker (and replayed at most per join). Default 1000. */
  historyLimit?: number;
  /** Hub limits (rates, sizes, slow consumers, connections per user/IP). Defaults in docs/limits.md. */
  limits?: HubLimits;
  /** Allowed `Origin` values; requests without Origin (non-browsers) pass. Default: all origins. */
  allowedOrigins?: readonly string[];
  /**
   * How many reverse proxies in front of this server to trust for `X-Forwarded-For` (the per-IP connection limit
   * then counts the address the outermost trusted proxy saw). Default 0: the header is ignored, because any client
   * can send it.
   */
  trustProxy?: number;
  /**
   * Negotiate permessage-deflate (RFC 7692): `true` means {@link CHAT_DEFLATE}, an object gives ws-style options,
   * `false` turns it off. Default `true`.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Transport heartbeat interval in ms (0 = off), announced to clients. Default 30_000. */
  heartbeatMs?: number;
  /** Largest WebSocket message the transport accepts, in bytes. Default 1 MiB. */
  maxPayload?: number;
  /** Directory served at `/` (index.html). Default DEFAULT_WEB_ROOT. */
  webRoot?: string;
  /** Logger. Default pino to stderr at `LOG_LEVEL` (default `warn`). */
  logger?: Logger;
  /** Time connections get to close on shutdown before they are dropped, in ms. Default 5_000. */
  shutdownDrainMs?: number;
  /** Also export Node's default process metrics. Default false. */
  processMetrics?: boolean;
}

/** ChatServer is a running (or ready) chat server. */
export interface ChatServer {
  /** listen starts accepting and resolves to the bound port and host. */
  listen(): Promise<{ port: number; host: string }>;
  /**
   * close stops accepting, closes every connection with `code` (default 1001 Going Away; 1012 Service Restart after a
   * failure), waits up to the drain time, and releases everything. Later calls return the first call's promise.
   */
  close(options?: { code?: number; reason?: string }): Promise<void>;
  readonly hub: Hub;
  readonly httpServer: Server;
  readonly wss: WebSocketServer;
  readonly registry: Registry;
  readonly logger: Logger;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

function createMetrics(registry: Registry) {
  const r = [registry];
  return {
    connections: new Gauge({ name: 'hayate_connections', help: 'Open WebSocket connections', registers: r }),
    connectionsTotal: new Counter({ name: 'hayate_connections_total', help: 'WebSocket connections accepted', registers: r }),
    messagesIn: new Counter({ name: 'hayate_messages_in_total', help: 'Messages received from clients', labelNames: ['kind'] as const, registers: r }),
    bytesIn: new Counter({ name: 'hayate_bytes_in_total', help: 'Message payload bytes received from clients', registers: r }),
    messagesOut: new Counter({ name: 'hayate_messages_out_total', help: 'Messages written to connections (one per recipient)', registers: r }),
    bytesOut: new Counter({ name: 'hayate_bytes_out_total', help: 'Message payload bytes written to connections', registers: r }),
    errors: new Counter({ name: 'hayate_errors_total', help: 'Error replies sent, by code', labelNames: ['code'] as const, registers: r }),
    rateLimited: new Counter({ name: 'hayate_rate_limited_total', help: 'Messages refused by a rate limit', registers: r }),
    slowConsumers: new Counter({ name: 'hayate_slow_consumer_disconnects_total', help: 'Connections closed with 1013 as slow consumers', registers: r }),
    policyCloses: new Counter({ name: 'hayate_policy_closes_total', help: 'Connections closed with 1008 for abuse', registers: r }),
    resyncs: new Counter({ name: 'hayate_resyncs_total', help: 'Room history re-reads after lost or crossed live payloads, by outcome', labelNames: ['outcome'] as const, registers: r }),
    rejections: new Counter({ name: 'hayate_handshake_rejections_total', help: 'WebSocket handshakes refused, by HTTP status', labelNames: ['status'] as const, registers: r }),
  };
}

/** createChatServer builds (without starting) the chat server: HTTP routes, WebSocket endpoint, hub and metrics. */
export function createChatServer(options: ChatServerOptions = {}): ChatServer {
  const dev = options.auth?.dev === true;
  const port = options.port ?? 8080;
  const host = options.host ?? (dev ? '127.0.0.1' : '0.0.0.0');
  const path = options.path ?? '/ws';
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const webRoot = resolve(options.webRoot ?? DEFAULT_WEB_ROOT);
  const drainMs = options.shutdownDrainMs ?? 5_000;
  const logger = options.logger
    ?? pino({ level: process.env.LOG_LEVEL ?? 'warn', base: { service: 'hayate' } }, pino.destination({ dest: 2, sync: true }));
  const ownBroker = options.broker === undefined;
  const historyLimit = options.historyLimit ?? 1000;
  const broker = options.broker ?? new MemoryBroker({ historyLimit });
  const authenticator = createAuthenticator(options.auth ?? {});
  const allowedOrigins = options.allowedOrigins;

  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  const metrics = createMetrics(registry);

  const httpServer: Server = options.tls !== undefined
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
    : createHttpServer();
  // Bounded HTTP: headers within 10 s, a whole request within 30 s (Node's defaults are looser on older versions).
  httpServer.headersTimeout = 10_000;
  httpServer.requestTimeout = 30_000;

  const identities = new WeakMap<IncomingMessage, { identity: Identity; address: string }>();
  const trustProxy = options.trustProxy ?? 0;
  const hub: Hub = new Hub({
    replayLimit: historyLimit,
    ...options.limits,
    broker,
    heartbeatMs,
    logger,
    prepare: (data, { binary }) =>
      wss.prepare(typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), { binary }),
    observer: {
      connectionOpened: () => {
        metrics.connections.inc();
        metrics.connectionsTotal.inc();
      },
      connectionClosed: () => metrics.connections.dec(),
      messageIn: (bytes, binary) => {
        metrics.messagesIn.inc({ kind: binary ? 'binary' : 'text' });
        metrics.bytesIn.inc(bytes);
      },
      messageOut: (bytes, recipients) => {
        metrics.messagesOut.inc(recipients);
        metrics.bytesOut.inc(bytes * recipients);
      },
      errorSent: (code) => {
        metrics.errors.inc({ code });
        if (code === 'rate_limited') metrics.rateLimited.inc();
      },
      slowConsumer: () => metrics.slowConsumers.inc(),
      policyViolation: () => metrics.policyCloses.inc(),
      resyncStarted: () => metrics.resyncs.inc({ outcome: 'started' }),
      resyncAbandoned: () => metrics.resyncs.inc({ outcome: 'abandoned' }),
    },
  });

  // Refusals are counted from the server's `rejection` event, which also sees the transport's own (400, 426, 503).
  const reject = (status: number, body: string, headers: Record<string, string> = {}): AcceptResult => {
    logger.info({ status, reason: body }, 'handshake rejected');
    return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body };
  };

  const accept = async (info: AcceptInfo): Promise<AcceptResult> => {
    // RFC 6455 §10.2: servers "MAY use the |Origin| to determine whether or not to accept"; checked here (not by the
    // transport) so that refusals are counted with the others.
    if (allowedOrigins !== undefined && info.origin !== undefined && !allowedOrigins.includes(info.origin)) {
      return reject(403, 'origin not allowed');
    }
    const result = await authenticator.authenticate({ headers: info.headers, query: info.query });
    if (!result.ok) return reject(result.status, result.reason, result.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    const address = clientAddress(info.request, info.remoteAddress, trustProxy);
    const admission = hub.admit(result.identity.user.id, address);
    if (!admission.ok) return reject(admission.status, admission.reason, { 'retry-after': '10' });
    identities.set(info.request, { identity: result.identity, address });
    return true;
  };

  const wss = new WebSocketServer({
    server: httpServer,
    path,
    accept,
    handleProtocols: (protocols) => selectSubprotocol(protocols),
    perMessageDeflate: options.perMessageDeflate === false ? false : options.perMessageDeflate === true || options.perMessageDeflate === undefined ? CHAT_DEFLATE : options.perMessageDeflate,
    heartbeatInterval: heartbeatMs,
    maxPayload: options.maxPayload ?? 1024 * 1024,
  });


  wss.on('connection', (conn, request: IncomingMessage) => {
    const admitted = identities.get(request);
    if (admitted === undefined) {
      conn.close(1011, 'internal error');
      return;
    }
    identities.delete(request);
    const { identity, address } = admitted;
    hub.addConnection(conn, { user: identity.user, expiresAt: identity.expiresAt, address });
  });
  wss.on('error', (error: Error) => logger.error({ err: error }, 'websocket server error'));
  wss.on('rejection', (status: number) => metrics.rejections.inc({ status: String(status) }));

  httpServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handleHttp(request, response).catch((error: unknown) => {
      logger.error({ err: error }, 'http handler failed');
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    });
  });

  async function handleHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (method !== 'GET' && method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/healthz') {
      const body = JSON.stringify({ status: 'ok', connections: hub.connections, epoch: hub.epoch });
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      response.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === '/metrics') {
      const body = await registry.metrics();
      response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      response.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === path) {
      response.writeHead(426, { upgrade: 'websocket', 'content-type': 'text/plain; charset=utf-8' }).end('WebSocket endpoint: upgrade required\n');
      return;
    }
    await serveStatic(url.pathname, method, response);
  }

  async function serveStatic(pathname: string, method: string, response: ServerResponse): Promise<void> {
    let relative: string;
    try {
      relative = decodeURIComponent(pathname);
    } catch {
      response.writeHead(400).end();
      return;
    }
    if (relative.endsWith('/')) relative += 'index.html';
    const file = resolve(webRoot, `.${relative}`);
    // No path traversal: the resolved file must stay inside the web root (after decoding, so %2e%2e is caught too).
    if (relative.includes('\0') || (file !== webRoot && !file.startsWith(webRoot + sep))) {
      response.writeHead(404).end();
      return;
    }
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) {
      const hint = relative === '/index.html' ? 'the chat page is not built: run npm run build\n' : 'not found\n';
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(hint);
      return;
    }
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      'x-content-type-options': 'nosniff',
      'cache-control': extname(file) === '.html' ? 'no-cache' : 'public, max-age=300',
    });
    if (method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(file).on('error', () => response.destroy()).pipe(response);
  }

  let closing: Promise<void> | null = null;
  return {
    hub,
    httpServer,
    wss,
    registry,
    logger,
    listen() {
      return new Promise((resolveListen, rejectListen) => {
        httpServer.once('error', rejectListen);
        httpServer.listen(port, host, () => {
          httpServer.off('error', rejectListen);
          const address = httpServer.address();
          const bound = typeof address === 'object' && address !== null ? address.port : port;
          logger.info({ port: bound, host, path }, 'listening');
          resolveListen({ port: bound, host });
        });
      });
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        await hub.close({ code: closeOptions.code ?? 1001, reason: closeOptions.reason ?? 'server shutting down', drainMs });
        await new Promise<void>((done) => wss.close(() => done()));
        await new Promise<void>((done) => {
          if (!httpServer.listening) {
            done();
            return;
          }
          httpServer.close(() => done());
          httpServer.closeAllConnections();
        });
        if (ownBroker) await broker.close();
      })();
      return closing;
    },
  };
}

/**
 * clientAddress is the address a connection is counted under: the socket's peer, or with `trustProxy` hops the
 * `X-Forwarded-For` entry that the outermost trusted proxy appended (entries further left are the client's word).
 */
export function clientAddress(request: IncomingMessage, remoteAddress: string | undefined, trustProxy: number): string {
  const peer = remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  return hops.length >= trustProxy ? hops[hops.length - trustProxy] : (hops[0] ?? peer);
}
