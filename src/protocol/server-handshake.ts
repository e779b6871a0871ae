// The server's side of the opening handshake (RFC 6455 §4.2): judging a client's upgrade request from its method,
// HTTP version and header values, and writing the 101 response.
//
// What this module does not do: parse HTTP (Node's `upgrade` event hands us method, version and headers), choose a
// subprotocol or negotiate an extension (the server's hooks and deflate-params.ts do; the result is passed in), or
// check Origin (an application policy, RFC 6455 §10.2, enforced by the server's options).
import {
  acceptKey,
  buildHttpResponse,
  formatHeaderLines,
  headerValue,
  isValidKey,
  WEBSOCKET_VERSION,
  type HeaderFields,
  type HeaderMap,
} from './handshake.js';
import {
  formatExtensions,
  headerHasToken,
  isFieldValue,
  isToken,
  parseExtensions,
  parseSubprotocols,
  type ExtensionOffer,
  type HeaderValueOptions,
} from './header-values.js';

/** HandshakeRequest is what the server knows of an upgrade request: Node's `req.method`, `req.httpVersion`, `req.headers`. */
export interface HandshakeRequest {
  method: string | undefined;
  /** `major.minor`, as Node's `req.httpVersion` (`'1.1'`). */
  httpVersion: string;
  /** Header values with lowercase names. */
  headers: HeaderMap;
}

/** AcceptedHandshakeRequest is a valid upgrade request's key and offers. */
export interface AcceptedHandshakeRequest {
  ok: true;
  /** The client's `Sec-WebSocket-Key`, to be answered with {@link acceptKey}. */
  key: string;
  /** Subprotocols offered, in the client's order of preference (empty when none). */
  protocols: string[];
  /** Extensions offered, in order (empty when none). */
  extensions: ExtensionOffer[];
}

/** RejectedHandshakeRequest says how to refuse an invalid upgrade request: the HTTP status, headers and a reason. */
export interface RejectedHandshakeRequest {
  ok: false;
  status: number;
  headers: Record<string, string>;
  reason: string;
}

function reject(status: number, reason: string, headers: Record<string, string> = {}): RejectedHandshakeRequest {
  return { ok: false, status, headers, reason };
}

function isHttp11OrHigher(version: string): boolean {
  const dot = version.indexOf('.');
  const major = Number(dot < 0 ? version : version.slice(0, dot));
  const minor = dot < 0 ? 0 : Number(version.slice(dot + 1));
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false;
  return major > 1 || (major === 1 && minor >= 1);
}

/**
 * validateClientRequest judges an opening handshake request against RFC 6455 §4.2.1 and returns the key and offers,
 * or the status to answer with: 405 (with `Allow: GET`) for another method, 400 for HTTP/1.0, a missing Host, a
 * missing or wrong `Upgrade`/`Connection`, a key that does not decode to 16 bytes, or a malformed
 * `Sec-WebSocket-Protocol`/`Sec-WebSocket-Extensions`; 426 with `Sec-WebSocket-Version: 13` for a missing or other
 * version. Header values are bounded by `options.maxLength` (default 8 KiB each).
 */
export function validateClientRequest(
  request: HandshakeRequest,
  options: HeaderValueOptions = {},
): AcceptedHandshakeRequest | RejectedHandshakeRequest {
  const { headers } = request;
  // RFC 6455 §4.2.1: "1. An HTTP/1.1 or higher GET request"
  if (request.method !== 'GET') return reject(405, 'method must be GET', { Allow: 'GET' });
  if (!isHttp11OrHigher(request.httpVersion)) return reject(400, 'HTTP/1.1 or higher is required');
  // "2. A |Host| header field containing the server's authority."
  const host = headerValue(headers, 'host');
  if (host === undefined || host.length === 0) return reject(400, 'missing Host header');
  // "3. An |Upgrade| header field containing the value "websocket", treated as an ASCII case-insensitive value."
  if (!headerHasToken(headers.upgrade, 'websocket', options)) return reject(400, 'missing or invalid Upgrade header');
  // "4. A |Connection| header field that includes the token "Upgrade", treated as an ASCII case-insensitive value."
  if (!headerHasToken(headers.connection, 'upgrade', options)) return reject(400, 'missing or invalid Connection header');
  // "5. A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is 16 bytes in length."
  const key = headers['sec-websocket-key'];
  if (typeof key !== 'string' || !isValidKey(key)) return reject(400, 'missing or invalid Sec-WebSocket-Key header');
  // "6. A |Sec-WebSocket-Version| header field, with a value of 13."
  // §4.2.2: "If this version does not match a version understood by the server, the server MUST abort the WebSocket
  // handshake ... and instead send an appropriate HTTP error code (such as 426 Upgrade Required) and a
  // |Sec-WebSocket-Version| header field indicating the version(s) the server is capable of understanding."
  if (headers['sec-websocket-version'] !== WEBSOCKET_VERSION) {
    return reject(426, 'unsupported Sec-WebSocket-Version', { 'Sec-WebSocket-Version': WEBSOCKET_VERSION });
  }
  const protocols = parseSubprotocols(headers['sec-websocket-protocol'], options);
  if (!protocols.ok) return reject(400, protocols.reason);
  const extensions = parseExtensions(headers['sec-websocket-extensions'], options);
  if (!extensions.ok) return reject(400, extensions.reason);
  return { ok: true, key, protocols: protocols.value, extensions: extensions.value };
}

/** AcceptOptions is what the 101 response says. */
export interface AcceptOptions {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The chosen subprotocol, one the client offered (default none). */
  protocol?: string;
  /** The accepted extensions: a ready header value or structured responses (default none). */
  extensions?: string | readonly ExtensionOffer[];
  /** Extra headers (default none), e.g. `Set-Cookie`. They may not override the handshake's own headers. */
  headers?: HeaderFields;
}

const RESERVED = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);

/**
 * buildAcceptHeaders writes the 101 response's header lines (no status line, no CRLF): `Upgrade: websocket`,
 * `Connection: Upgrade`, `Sec-WebSocket-Accept`, the optional `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`,
 * then the extra headers. Throws a TypeError when the protocol is not a token, an extra header redefines one of these,
 * or any name/value would inject a line.
 */
export function buildAcceptHeaders(options: AcceptOptions): string[] {
  // Written line by line rather than through formatHeaderLines: this runs once per connection, and the first three
  // lines are known to be well-formed (the accept value is base64).
  const lines = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(options.key)}`];
  if (options.protocol !== undefined && options.protocol !== '') {
    // RFC 6455 §4.2.2: the server's selection "MUST be one of the values provided by the client" (a token).
    if (!isToken(options.protocol)) throw new TypeError(`invalid subprotocol ${JSON.stringify(options.protocol)}`);
    lines.push(`Sec-WebSocket-Protocol: ${options.protocol}`);
  }
  const extensions =
    options.extensions === undefined || typeof options.extensions === 'string'
      ? options.extensions
      : formatExtensions(options.extensions);
  if (extensions !== undefined && extensions !== '') {
    if (!isFieldValue(extensions)) throw new TypeError(`invalid value for header Sec-WebSocket-Extensions: ${JSON.stringify(extensions)}`);
    lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  }
  if (options.headers !== undefined) {
    const extra = options.headers;
    for (const name of Object.keys(extra)) {
      if (RESERVED.has(name.toLowerCase())) throw new TypeError(`header ${name} is set by the handshake`);
    }
    for (const line of formatHeaderLines(extra)) lines.push(line);
  }
  return lines;
}

/** buildAcceptResponse writes the whole 101 Switching Protocols response as bytes (see {@link buildAcceptHeaders}). */
export function buildAcceptResponse(options: AcceptOptions): Buffer {
  const lines = ['HTTP/1.1 101 Switching Protocols', ...buildAcceptHeaders(options)];
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

/**
 * buildRejectResponse writes the response refusing a request judged by {@link validateClientRequest}: its status,
 * its headers and its reason as a text body.
 */
export function buildRejectResponse(rejection: Omit<RejectedHandshakeRequest, 'ok'>): Buffer {
  return buildHttpResponse({ status: rejection.status, headers: rejection.headers, body: rejection.reason });
}
