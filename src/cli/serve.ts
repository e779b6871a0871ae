// `hayate serve`: reads flags and environment variables into ChatServerOptions (node:util parseArgs), starts the chat
// server, prints where it listens, and shuts down gracefully on SIGTERM/SIGINT (stop accepting, close 1001 to
// everyone, bounded drain, exit 0). It does not implement any server behaviour itself (chat-server.ts does).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RedisBroker } from '../realtime/brokers/redis.js';
import { createChatServer, type ChatServerOptions } from './chat-server.js';

/** SERVE_USAGE is the `hayate serve --help` text. */
export const SERVE_USAGE = `Usage: hayate serve [options]

Runs the realtime chat server: WebSocket endpoint, /healthz, /metrics and the chat page.
Every option can also be set with the environment variable shown (flags win).

  --port <n>                     TCP port (0 = any free port)          PORT, HAYATE_PORT     default 8080
  --host <addr>                  interface to bind                     HAYATE_HOST           default 127.0.0.1 with --dev, else 0.0.0.0
  --path <path>                  WebSocket path                        HAYATE_PATH           default /ws
  --tls-cert <file>              PEM certificate (serve HTTPS/WSS)     HAYATE_TLS_CERT
  --tls-key <file>               PEM private key                       HAYATE_TLS_KEY
  --jwt-secret <secret>          HS256 secret for tokens               HAYATE_JWT_SECRET     (prefer the variable: flags show in ps)
  --jwt-public-key <file>        PEM public key (RS256/ES256/EdDSA)    HAYATE_JWT_PUBLIC_KEY
  --jwks-url <url>               JSON Web Key Set URL                  HAYATE_JWKS_URL
  --jwt-issuer <iss>             required token issuer                 HAYATE_JWT_ISSUER
  --jwt-audience <aud>           required token audience               HAYATE_JWT_AUDIENCE
  --dev                          anonymous users allowed (?name=)      HAYATE_DEV=1          default off
  --history <n>                  messages kept per room                HAYATE_HISTORY        default 1000
  --redis <url>                  share rooms with other nodes (Redis)  HAYATE_REDIS_URL      default in-memory, one node
  --redis-prefix <p>             Redis key and channel prefix          HAYATE_REDIS_PREFIX   default hayate:
  --allowed-origins <a,b>        allowed Origin values                 HAYATE_ALLOWED_ORIGINS default all
  --max-connections-per-user <n>                                       HAYATE_MAX_CONNECTIONS_PER_USER default 8
  --max-connections-per-ip <n>                                         HAYATE_MAX_CONNECTIONS_PER_IP   default 64
  --trust-proxy <n>              proxies trusted for X-Forwarded-For   HAYATE_TRUST_PROXY    default 0 (header ignored)
  --rate <n>                     messages/s per connection (burst 2n)  HAYATE_RATE           default 20
  --user-rate <n>                messages/s per user (burst 2n)        HAYATE_USER_RATE      default 50
  --max-message-bytes <n>        largest client message                HAYATE_MAX_MESSAGE_BYTES default 65536
  --max-buffered-bytes <n>       send queue bound (slow consumers)     HAYATE_MAX_BUFFERED_BYTES default 1048576
  --heartbeat-ms <n>             transport ping interval (0 = off)     HAYATE_HEARTBEAT_MS   default 30000
  --no-deflate                   do not negotiate permessage-deflate   HAYATE_DEFLATE=0      default on (no context takeover)
  --web-root <dir>               static files served at /              HAYATE_WEB_ROOT       default web/dist of the package
  --drain-ms <n>                 shutdown drain time                   HAYATE_DRAIN_MS       default 5000
  -h, --help                     show this help

Logs: JSON lines on stderr at LOG_LEVEL (default warn).
A JWT secret, public key or JWKS URL is required unless --dev is given.
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  path: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'jwt-secret': { type: 'string' },
  'jwt-public-key': { type: 'string' },
  'jwks-url': { type: 'string' },
  'jwt-issuer': { type: 'string' },
  'jwt-audience': { type: 'string' },
  dev: { type: 'boolean' },
  history: { type: 'string' },
  redis: { type: 'string' },
  'redis-prefix': { type: 'string' },
  'allowed-origins': { type: 'string' },
  'max-connections-per-user': { type: 'string' },
  'max-connections-per-ip': { type: 'string' },
  'trust-proxy': { type: 'string' },
  rate: { type: 'string' },
  'user-rate': { type: 'string' },
  'max-message-bytes': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'no-deflate': { type: 'boolean' },
  'web-root': { type: 'string' },
  'drain-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** UsageError is a bad command line; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Env = Record<string, string | undefined>;

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

function falsy(value: string | undefined): boolean {
  return value !== undefined && /^(0|false|no|off)$/i.test(value);
}

/** parseServeArgs turns `hayate serve` arguments and the environment into options (or `help`); throws UsageError. */
export function parseServeArgs(
  argv: readonly string[],
  env: Env = process.env,
): { help: true } | { help: false; options: ChatServerOptions; redis?: { url: string; prefix?: string } } {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return { help: true };
  const str = (flag: string, ...vars: string[]): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    for (const name of vars) if (env[name] !== undefined && env[name] !== '') return env[name];
    return undefined;
  };
  const int = (flag: string, min: number, ...vars: string[]): number | undefined => {
    const raw = str(flag, ...vars);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
    return n;
  };
  const file = (flag: string, variable: string): string | undefined => {
    const path = str(flag, variable);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError(`--${flag}: cannot read ${path}: ${(error as Error).message}`);
    }
  };

  const dev = values.dev === true || truthy(env.HAYATE_DEV);
  const options: ChatServerOptions = {
    port: int('port', 0, 'HAYATE_PORT', 'PORT') ?? 8080,
    host: str('host', 'HAYATE_HOST'),
    path: str('path', 'HAYATE_PATH') ?? '/ws',
    auth: {
      dev,
      secret: str('jwt-secret', 'HAYATE_JWT_SECRET'),
      publicKey: file('jwt-public-key', 'HAYATE_JWT_PUBLIC_KEY'),
      jwksUrl: str('jwks-url', 'HAYATE_JWKS_URL'),
      issuer: str('jwt-issuer', 'HAYATE_JWT_ISSUER'),
      audience: str('jwt-audience', 'HAYATE_JWT_AUDIENCE'),
    },
    historyLimit: int('history', 0, 'HAYATE_HISTORY') ?? 1000,
    heartbeatMs: int('heartbeat-ms', 0, 'HAYATE_HEARTBEAT_MS') ?? 30_000,
    perMessageDeflate: values['no-deflate'] !== true && !falsy(env.HAYATE_DEFLATE),
    webRoot: str('web-root', 'HAYATE_WEB_ROOT'),
    shutdownDrainMs: int('drain-ms', 0, 'HAYATE_DRAIN_MS') ?? 5_000,
    processMetrics: true,
    limits: {},
  };
  if (options.port !== undefined && options.port > 65_535) throw new UsageError('--port must be at most 65535');
  const auth = options.auth ?? {};
  if (auth.secret === undefined && auth.publicKey === undefined && auth.jwksUrl === undefined && !dev) {
    throw new UsageError('give --jwt-secret, --jwt-public-key or --jwks-url (or --dev for anonymous development use)');
  }
  const cert = file('tls-cert', 'HAYATE_TLS_CERT');
  const key = file('tls-key', 'HAYATE_TLS_KEY');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (cert !== undefined && key !== undefined) options.tls = { cert, key };
  const origins = str('allowed-origins', 'HAYATE_ALLOWED_ORIGINS');
  if (origins !== undefined) options.allowedOrigins = origins.split(',').map((o) => o.trim()).filter((o) => o !== '');
  const limits = options.limits ?? {};
  const perUser = int('max-connections-per-user', 1, 'HAYATE_MAX_CONNECTIONS_PER_USER');
  if (perUser !== undefined) limits.maxConnectionsPerUser = perUser;
  const perIp = int('max-connections-per-ip', 1, 'HAYATE_MAX_CONNECTIONS_PER_IP');
  if (perIp !== undefined) limits.maxConnectionsPerIp = perIp;
  const trustProxy = int('trust-proxy', 0, 'HAYATE_TRUST_PROXY');
  if (trustProxy !== undefined) options.trustProxy = trustProxy;
  const rate = int('rate', 1, 'HAYATE_RATE');
  if (rate !== undefined) limits.connectionRate = { perSecond: rate, burst: rate * 2 };
  const userRate = int('user-rate', 1, 'HAYATE_USER_RATE');
  if (userRate !== undefined) limits.userRate = { perSecond: userRate, burst: userRate * 2 };
  const maxMessage = int('max-message-bytes', 1, 'HAYATE_MAX_MESSAGE_BYTES');
  if (maxMessage !== undefined) {
    limits.maxMessageBytes = maxMessage;
    options.maxPayload = Math.max(maxMessage, 1024 * 1024);
  }
  const maxBuffered = int('max-buffered-bytes', 1, 'HAYATE_MAX_BUFFERED_BYTES');
  if (maxBuffered !== undefined) {
    limits.maxBufferedBytes = maxBuffered;
    limits.hardMaxBufferedBytes = Math.max(maxBuffered * 8, 8 * 1024 * 1024);
  }
  const redisUrl = str('redis', 'HAYATE_REDIS_URL');
  if (redisUrl === undefined) return { help: false, options };
  if (!/^rediss?:\/\//.test(redisUrl)) throw new UsageError('--redis must be a redis:// or rediss:// URL');
  return { help: false, options, redis: { url: redisUrl, prefix: str('redis-prefix', 'HAYATE_REDIS_PREFIX') } };
}

/** ServeIO is where `hayate serve` writes and how it exits (injectable for tests). */
export interface ServeIO {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  exit: (code: number) => void;
}

const DEFAULT_IO: ServeIO = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  exit: (code) => process.exit(code),
};

/** runServe runs `hayate serve` until SIGTERM/SIGINT; resolves once listening (the process then lives on). */
export async function runServe(argv: readonly string[], env: Env = process.env, io: ServeIO = DEFAULT_IO): Promise<void> {
  let parsed: ReturnType<typeof parseServeArgs>;
  try {
    parsed = parseServeArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`hayate serve: ${error.message}\n\n${SERVE_USAGE}`);
    io.exit(2);
    return;
  }
  if (parsed.help) {
    io.stdout(SERVE_USAGE);
    io.exit(0);
    return;
  }
  const { options } = parsed;
  let broker: RedisBroker | undefined;
  const started: { server?: ReturnType<typeof createChatServer> } = {};
  // Crash-only: without Redis this node can neither deliver nor store. Tell clients to come back (1012 Service
  // Restart: the SDK retries, probably reaching a healthy node) and exit non-zero for the supervisor to restart us.
  const lostRedis = (error: Error): void => {
    io.stderr(`hayate serve: lost the connection to Redis: ${error.message}`);
    const done = (): void => io.exit(1);
    if (started.server === undefined) done();
    else started.server.close({ code: 1012, reason: 'service restart' }).then(done, done);
  };
  if (parsed.redis !== undefined) {
    try {
      broker = await RedisBroker.connect({
        url: parsed.redis.url,
        prefix: parsed.redis.prefix,
        historyLimit: options.historyLimit,
        onConnectionLost: (error) => lostRedis(error),
      });
    } catch (error) {
      io.stderr(`hayate serve: cannot connect to Redis at ${parsed.redis.url}: ${(error as Error).message}`);
      io.exit(1);
      return;
    }
    options.broker = broker;
  }
  const running = createChatServer(options);
  started.server = running;
  let address: { port: number; host: string };
  try {
    address = await running.listen();
  } catch (error) {
    io.stderr(`hayate serve: cannot listen: ${(error as Error).message}`);
    await broker?.close();
    io.exit(1);
    return;
  }
  const scheme = options.tls !== undefined ? 'https' : 'http';
  const wsScheme = options.tls !== undefined ? 'wss' : 'ws';
  const shown = address.host === '0.0.0.0' || address.host === '::' ? 'localhost' : address.host;
  io.stdout(
    `hayate listening on ${scheme}://${shown}:${address.port}/ (WebSocket ${wsScheme}://${shown}:${address.port}${options.path ?? '/ws'})` +
      (options.auth?.dev === true ? ' [dev mode: anonymous users allowed]' : ''),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down');
    // Bounded: if closing hangs past the drain time plus a margin, give up with a failure code.
    const hard = setTimeout(() => {
      io.stderr('hayate serve: shutdown did not finish in time');
      io.exit(1);
    }, (options.shutdownDrainMs ?? 5_000) + 5_000);
    hard.unref();
    running.close().then(() => broker?.close()).then(
      () => {
        clearTimeout(hard);
        io.exit(0);
      },
      (error: unknown) => {
        io.stderr(`hayate serve: shutdown failed: ${(error as Error).message}`);
        io.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
