// The opening handshake's shared pieces (RFC 6455 §1.3, §4.1, §4.2.2): the GUID, `Sec-WebSocket-Accept` computation,
// client key generation, and writing HTTP response bytes with header-injection checks. The server's rules live in
// server-handshake.ts and the client's in client-handshake.ts; this module re-exports both, so
// `export * from './handshake.js'` is the whole handshake surface.
//
// What this module does not do: parse HTTP (Node's parser does, on both sides), or open sockets.
import { hash, randomBytes } from 'node:crypto';
import { isFieldValue, isToken } from './header-values.js';

export * from './server-handshake.js';
export * from './client-handshake.js';

/** WEBSOCKET_GUID is RFC 6455 §1.3's "globally unique identifier" appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** WEBSOCKET_VERSION is the only `Sec-WebSocket-Version` this implementation speaks (RFC 6455 §4.1). */
export const WEBSOCKET_VERSION = '13';

/** HeaderMap is a set of request or response headers with lowercase names, as Node's `IncomingMessage.headers`. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** HeaderFields are headers to send: name to value, or to several values sent as several lines. */
export type HeaderFields = Readonly<Record<string, string | number | readonly string[]>>;

/**
 * acceptKey computes `Sec-WebSocket-Accept` for a client's key. RFC 6455 §4.2.2: "concatenate this with the Globally
 * Unique Identifier ... take the SHA-1 hash of this concatenated value to obtain a 20-byte value and base64-encode".
 */
export function acceptKey(key: string): string {
  // One-shot `crypto.hash` (Node 20.12): no Hash object per handshake. A key is base64, so ASCII, and hashing it as
  // UTF-8 (what `hash` does with a string) is hashing its bytes.
  return hash('sha1', key + WEBSOCKET_GUID, 'base64');
}

/**
 * generateKey makes a client's `Sec-WebSocket-Key`. RFC 6455 §4.1: "a randomly selected 16-byte value that has been
 * base64-encoded ... The nonce MUST be selected randomly for each connection."
 */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * isValidKey tells whether a `Sec-WebSocket-Key` decodes to exactly 16 bytes (RFC 6455 §4.2.1 item 5): 22 base64
 * characters and `==`. Checked by hand, without a regular expression, in one pass.
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const base64 =
      (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    if (!base64) return false;
  }
  return true;
}

/** First header value of a {@link HeaderMap} entry, or undefined. */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  return value.length === 1 ? value[0] : value.join(', ');
}

/**
 * formatHeaderLines writes header fields as `Name: value` lines (no CRLF). Throws a TypeError when a name is not a
 * token or a value contains CR, LF or another control character, which would let a caller inject headers or a body.
 */
export function formatHeaderLines(fields: HeaderFields): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(fields)) {
    if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    const value = fields[name];
    const values = typeof value === 'string' ? [value] : typeof value === 'number' ? [String(value)] : value;
    for (const v of values) {
      if (typeof v !== 'string' || !isFieldValue(v)) {
        throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(v)}`);
      }
      lines.push(`${name}: ${v}`);
    }
  }
  return lines;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** HttpResponseOptions describes a response written on a raw socket (the server's upgrade path has no ServerResponse). */
export interface HttpResponseOptions {
  /** Status code, 100-599. */
  status: number;
  /** Reason phrase (default: the standard one for `status`, or `Unknown`). */
  statusText?: string;
  /** Header fields (default none). */
  headers?: HeaderFields;
  /** Body (default none). With a body, `Content-Length` is added and a text body gets `Content-Type: text/plain`. */
  body?: string | Buffer;
}

/**
 * buildHttpResponse writes a whole HTTP/1.1 response as bytes: status line, headers, blank line, body. A response
 * other than 101 also carries `Connection: close`. Throws a TypeError on a bad status or an injected header.
 */
export function buildHttpResponse(options: HttpResponseOptions): Buffer {
  const { status } = options;
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new TypeError(`invalid status ${status}`);
  const statusText = options.statusText ?? STATUS_TEXT[status] ?? 'Unknown';
  if (!isFieldValue(statusText)) throw new TypeError(`invalid status text ${JSON.stringify(statusText)}`);
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  const fields: Record<string, string | number | readonly string[]> = {};
  const given = options.headers ?? {};
  const has = (name: string) => Object.keys(given).some((k) => k.toLowerCase() === name);
  if (status !== 101 && !has('connection')) fields.Connection = 'close';
  if (body !== undefined) {
    if (typeof options.body === 'string' && !has('content-type')) fields['Content-Type'] = 'text/plain; charset=utf-8';
    if (!has('content-length')) fields['Content-Length'] = body.length;
  }
  const lines = [`HTTP/1.1 ${status} ${statusText}`, ...formatHeaderLines(given), ...formatHeaderLines(fields)];
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return body === undefined || body.length === 0 ? head : Buffer.concat([head, body]);
}
