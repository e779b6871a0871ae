// The Node client's opening handshake (RFC 6455 §4.1) over Node's own HTTP client: `http.request`/`https.request`
// with the `upgrade` event, never a hand-written HTTP parser. It parses the URL (WHATWG WebSockets standard rules),
// sends the request (key, subprotocols, extension offers, custom headers, TLS options), judges the response with the
// core's `validateServerResponse`, negotiates permessage-deflate, and hands the upgraded socket and its `head` bytes to
// a transport `Connection` wrapped around a client-role `WebSocketProtocol`.
//
// What it does not do: the WHATWG event API (websocket.ts) or the promise API (connect.ts); proxies; redirects (a 3xx
// fails the handshake, as in browsers); answering HTTP authentication challenges (a 401 fails; credentials in the URL
// are sent as Basic up front, as ws does). The handshake timeout is a deadline on the driver's shared timer
// (deadline-timer.ts), not a Node timer per connecting socket.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import {
  buildClientRequestHeaders,
  checkSubprotocols,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_PAYLOAD,
  generateKey,
  HandshakeError,
  parseExtensions,
  validateServerResponse,
  WebSocketProtocol,
  acceptPerMessageDeflateResponse,
  perMessageDeflateOffer,
  type ExtensionOffer,
  type MessageExtension,
  type PerMessageDeflateOptions,
} from '../protocol/index.js';
import { Connection } from './connection.js';
import { sharedDeadlines, type Deadline } from './deadline-timer.js';

/** ClientTlsOptions are the node:tls options a `wss:` client passes through (see `tls.connect`). */
export type ClientTlsOptions = Pick<
  TlsConnectionOptions,
  | 'ca'
  | 'cert'
  | 'key'
  | 'pfx'
  | 'passphrase'
  | 'rejectUnauthorized'
  | 'servername'
  | 'checkServerIdentity'
  | 'ciphers'
  | 'minVersion'
  | 'maxVersion'
  | 'secureContext'
  | 'ALPNProtocols'
>;

/** ClientOptions are the Node extras of the client, shared by `new WebSocket(url, protocols, options)` and `connect()`. */
export interface ClientOptions extends ClientTlsOptions {
  /** Extra request headers, e.g. `Authorization` (default none). The handshake's own headers win over same names. */
  headers?: Record<string, string | number | readonly string[]>;
  /** The `Origin` header to send (default none). */
  origin?: string;
  /**
   * Milliseconds from the start of the request to the end of the 101 response before the request is destroyed and
   * the connection fails (default `DEFAULT_HANDSHAKE_TIMEOUT_MS`, 10 000). 0 disables the timer.
   */
  handshakeTimeout?: number;
  /** Largest message accepted, reassembled and inflated, in bytes; more fails with 1009 (default 100 MiB). */
  maxPayload?: number;
  /**
   * Offer permessage-deflate (RFC 7692) as browsers do: `true` (default) offers
   * `permessage-deflate; client_max_window_bits`, `false` offers no extension, an object tunes the offer and codec
   * (ws's option names: `serverNoContextTakeover`, `clientMaxWindowBits`, `threshold`, `zlibDeflateOptions`, ...).
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Milliseconds to wait for the server to finish the closing handshake and close TCP (default 30 000). */
  closeTimeout?: number;
  /** Node extra: the local interface to connect from (default any). */
  localAddress?: string;
  /** Node extra: IPv4 or IPv6 only (4 or 6; default either). */
  family?: number;
}

/** parseWebSocketUrl's failure: why the URL cannot be used (the WHATWG constructor throws it as a SyntaxError). */
export interface UrlProblem {
  error: string;
}

/**
 * parseWebSocketUrl applies the WHATWG WebSockets standard's URL rules: parse `input` (relative to `base` when given);
 * map `http:` to `ws:` and `https:` to `wss:`; refuse any other scheme and any fragment. Returns the URL or the reason.
 */
export function parseWebSocketUrl(input: string | URL, base?: string | URL): URL | UrlProblem {
  let url: URL;
  try {
    url = new URL(String(input), base);
  } catch {
    return { error: `invalid URL: ${String(input)}` };
  }
  // "If urlRecord's scheme is "http", then set urlRecord's scheme to "ws". Otherwise, if urlRecord's scheme is
  // "https", set urlRecord's scheme to "wss"."
  if (url.protocol === 'http:') url = new URL('ws:' + url.href.slice('http:'.length));
  else if (url.protocol === 'https:') url = new URL('wss:' + url.href.slice('https:'.length));
  // "If urlRecord's scheme is not "ws" or "wss", then throw a "SyntaxError" DOMException."
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return { error: `unsupported URL scheme ${url.protocol}` };
  // "If urlRecord's fragment is non-null, then throw a "SyntaxError" DOMException." (An empty fragment is non-null
  // and serializes as a trailing "#".)
  if (url.href.includes('#')) return { error: 'a WebSocket URL may not have a fragment' };
  return url;
}

/**
 * checkProtocols returns why a WHATWG `protocols` list is invalid (an element that is not a token, or a duplicate),
 * or null.
 */
export function checkProtocols(protocols: readonly string[]): string | null {
  return checkSubprotocols(protocols);
}

/** HandshakeSuccess is an opened connection and what was negotiated. */
export interface HandshakeSuccess {
  connection: Connection;
  /** The server's selected subprotocol, `''` when none. */
  protocol: string;
  /** The accepted `Sec-WebSocket-Extensions` value, `''` when none. */
  extensions: string;
}

/** HandshakeCallback receives the outcome of {@link startHandshake} exactly once. */
export type HandshakeCallback = (error: HandshakeError | null, result: HandshakeSuccess | null) => void;

/** PendingHandshake is a handshake in flight; `abort()` destroys its request and reports an error unless done. */
export interface PendingHandshake {
  abort(message?: string): void;
}

function headersOf(res: IncomingMessage): Record<string, string | string[] | undefined> {
  return { ...res.headers };
}

/**
 * startHandshake opens a WebSocket connection to `url` (already checked by {@link parseWebSocketUrl}) offering
 * `protocols` (already checked), and calls `done` once: with the open `Connection`, or with a `HandshakeError` that
 * carries the HTTP `status` and `headers` when the server answered (401, 403, a 101 with a wrong accept value, ...).
 * Throws a TypeError at once on options that cannot be sent (headers with CR/LF), and a RangeError on invalid
 * `perMessageDeflate` options.
 */
export function startHandshake(
  url: URL,
  protocols: readonly string[],
  options: ClientOptions,
  done: HandshakeCallback,
): PendingHandshake {
  const secure = url.protocol === 'wss:';
  const key = generateKey();
  const deflate = options.perMessageDeflate ?? true;
  const offer = perMessageDeflateOffer(deflate);
  const offers: ExtensionOffer[] = offer === '' ? [] : (parseExtensions(offer) as { ok: true; value: ExtensionOffer[] }).value;
  const headers = buildClientRequestHeaders({
    key,
    protocols,
    extensions: offer,
    origin: options.origin,
    headers: options.headers,
  });
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const requestOptions: RequestOptions & ClientTlsOptions = {
    ...pickTls(options),
    host: hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    // Without an agent Node knows no default port, and would write it into Host.
    defaultPort: secure ? 443 : 80,
    path: url.pathname + url.search,
    method: 'GET',
    headers,
    // No agent: an upgraded socket never goes back to a pool, so connect directly.
    createConnection: secure ? connectTls : connectTcp,
    // RFC 6066 forbids IP literals in SNI; Node warns about them.
    servername: options.servername ?? (isIP(hostname) === 0 ? hostname : ''),
    localAddress: options.localAddress,
    family: options.family,
    setHost: true,
  };
  if (url.username !== '' || url.password !== '') {
    // RFC 6455 §3 has no userinfo; browsers drop it, ws sends it as Basic auth. We send Basic auth unless the caller
    // gave an Authorization header.
    const hasAuth = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    if (!hasAuth) {
      const user = decodeUserinfo(url.username);
      const pass = decodeUserinfo(url.password);
      headers.Authorization = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
    }
  }

  let finished = false;
  let deadline: Deadline | null = null;
  let req: ClientRequest | null = null;
  // Whether this handshake is the one CONNECTING to its host and port (§4.1 below), not one waiting behind it.
  let holding = false;
  const target = `${hostname.toLowerCase()}:${String(requestOptions.port)}`;

  const finish = (error: HandshakeError | null, result: HandshakeSuccess | null): void => {
    if (finished) return;
    finished = true;
    sharedDeadlines.cancel(deadline);
    deadline = null;
    if (holding) leaveConnecting(target);
    else dropQueued(target, begin);
    if (req === null) {
      done(error, result);
      return;
    }
    req.removeAllListeners('upgrade');
    req.removeAllListeners('response');
    req.removeAllListeners('information');
    // A late socket error must not crash the process after we stopped caring about the request.
    req.on('error', noop);
    done(error, result);
  };

  // Sends the request; run at once, or when the connection to the same host and port ahead of it is settled.
  function begin(): void {
    holding = true;
    if (finished) {
      leaveConnecting(target);
      return;
    }
    try {
      req = (secure ? httpsRequest : httpRequest)(requestOptions);
    } catch (error) {
      finish(new HandshakeError(`opening handshake failed: ${String(error)}`, { cause: error }), null);
      return;
    }
    sendRequest(req);
  }

  function sendRequest(req: ClientRequest): void {
    const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (timeout > 0) {
      deadline = sharedDeadlines.schedule(timeout, expire, () => {
        deadline = null;
        req.destroy();
        finish(new HandshakeError(`opening handshake timed out after ${timeout} ms`), null);
      });
    }

    req.on('error', (err: Error) => {
      req.destroy();
      finish(new HandshakeError(`opening handshake failed: ${err.message}`, { cause: err }), null);
    });

    req.on('response', (res: IncomingMessage) => {
      res.resume();
      req.destroy();
      finish(
        new HandshakeError(`unexpected server response: ${res.statusCode ?? 'none'}`, {
          status: res.statusCode,
          headers: headersOf(res),
        }),
        null,
      );
    });

    // A 101 that Node does not treat as an upgrade (no Upgrade/Connection headers) arrives as an informational
    // response; Node would then wait for a final one. It can only be a failed handshake.
    req.on('information', (info: { statusCode: number; headers: Record<string, string | string[] | undefined> }) => {
      if (info.statusCode !== 101) return;
      req.destroy();
      finish(new HandshakeError('invalid Upgrade or Connection header', { status: 101, headers: { ...info.headers } }), null);
    });

    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (finished) {
        socket.destroy();
        return;
      }
      const checked = validateServerResponse(
        { statusCode: res.statusCode, headers: res.headers },
        { key, protocols, extensionOffers: offers },
      );
      if (!checked.ok) {
        socket.destroy();
        finish(new HandshakeError(checked.reason, { status: checked.status, headers: headersOf(res) }), null);
        return;
      }
      let extension: MessageExtension | null = null;
      if (checked.extensions.length > 0) {
        // Only offered extensions got here (validateServerResponse), and permessage-deflate is the only one we offer.
        const accepted = acceptPerMessageDeflateResponse(checked.extensions, deflate);
        if ('error' in accepted) {
          socket.destroy();
          finish(new HandshakeError(accepted.error, { status: 101, headers: headersOf(res) }), null);
          return;
        }
        extension = accepted.extension;
      }
      const protocol = new WebSocketProtocol({
        role: 'client',
        maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        extension,
      });
      const connection = new Connection(socket, {
        protocol,
        head,
        subprotocol: checked.protocol,
        extensions: extension === null ? '' : checked.extensionsHeader,
        closeTimeout: options.closeTimeout,
      });
      finish(null, { connection, protocol: checked.protocol, extensions: connection.extensions });
    });

    req.end();
  }

  enterConnecting(target, begin);
  return {
    abort(message = 'the connection was closed before it opened'): void {
      if (finished) return;
      req?.destroy();
      finish(new HandshakeError(message), null);
    },
  };
}

// RFC 6455 §4.1: "There MUST be no more than one connection in a CONNECTING state. If multiple connections to the same
// IP address are attempted simultaneously, the client MUST serialize them". Keyed by host name and port, not by the
// resolved address: the rule's fallback "for the purposes of this step that each host name refers to a distinct
// remote host" (resolving first would cost a DNS lookup before every handshake). Each key holds the handshakes
// waiting behind the one in flight, which starts the next when it opens or fails.
const connecting = new Map<string, (() => void)[]>();

function enterConnecting(target: string, begin: () => void): void {
  const waiting = connecting.get(target);
  if (waiting !== undefined) {
    waiting.push(begin);
    return;
  }
  connecting.set(target, []);
  begin();
}

function leaveConnecting(target: string): void {
  const waiting = connecting.get(target);
  const next = waiting?.shift();
  if (next === undefined) {
    connecting.delete(target);
    return;
  }
  // On the next tick: the settled handshake's callback runs first, and a long queue does not nest calls.
  process.nextTick(next);
}

function dropQueued(target: string, begin: () => void): void {
  const waiting = connecting.get(target);
  if (waiting === undefined) return;
  const at = waiting.indexOf(begin);
  if (at >= 0) waiting.splice(at, 1);
}

function noop(): void {}

// Userinfo as the URL parser left it: percent-decoded when well-formed, else as written.
function decodeUserinfo(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function expire(onTimeout: () => void): void {
  onTimeout();
}

function connectTcp(options: RequestOptions): Socket {
  return netConnect(options as NetConnectOpts);
}

function connectTls(options: RequestOptions): Socket {
  return tlsConnect(options as TlsConnectionOptions);
}

const TLS_KEYS = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'checkServerIdentity',
  'ciphers',
  'minVersion',
  'maxVersion',
  'secureContext',
  'ALPNProtocols',
] as const;

function pickTls(options: ClientOptions): ClientTlsOptions {
  const picked: Record<string, unknown> = {};
  for (const name of TLS_KEYS) if (options[name] !== undefined) picked[name] = options[name];
  return picked as ClientTlsOptions;
}
