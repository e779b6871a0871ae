// The client's side of the opening handshake (RFC 6455 §4.1): the request's header fields and the rules a server's
// response must pass before the connection is open.
//
// What this module does not do: send the request or parse the response (the Node client uses `http.request` and its
// `upgrade` event), or judge permessage-deflate parameters (deflate-params.ts does, after this module has checked that
// only offered extensions came back).
import { acceptKey, formatHeaderLines, headerValue, WEBSOCKET_VERSION, type HeaderFields, type HeaderMap } from './handshake.js';
import {
  formatExtensions,
  headerHasToken,
  isToken,
  parseExtensions,
  type ExtensionOffer,
  type HeaderValueOptions,
} from './header-values.js';

/** ClientRequestOptions is what the client's upgrade request says. */
export interface ClientRequestOptions {
  /** The `Sec-WebSocket-Key` from {@link generateKey}. */
  key: string;
  /** Subprotocols to offer, in order of preference (default none). Each a token, all distinct. */
  protocols?: readonly string[];
  /** Extensions to offer: a ready header value or structured offers (default none). */
  extensions?: string | readonly ExtensionOffer[];
  /** `Origin` to send (default none; browsers always send one, Node clients usually do not). */
  origin?: string;
  /** Extra headers (default none). The handshake's own headers take precedence over same-named ones. */
  headers?: HeaderFields;
}

const OWN_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * checkSubprotocols returns why a list of subprotocols cannot be offered (RFC 6455 §4.1: non-empty tokens, "MUST all
 * be unique strings"), or null when it can.
 */
export function checkSubprotocols(protocols: readonly string[]): string | null {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !isToken(protocol)) return `invalid subprotocol ${JSON.stringify(protocol)}`;
    if (seen.has(protocol)) return `duplicate subprotocol ${JSON.stringify(protocol)}`;
    seen.add(protocol);
  }
  return null;
}

/**
 * buildClientRequestHeaders returns the upgrade request's header fields (RFC 6455 §4.1): `Upgrade`, `Connection`,
 * `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, the optional `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`
 * and `Origin`, and the extra headers. Throws a TypeError on invalid subprotocols or a header that would inject a line.
 */
export function buildClientRequestHeaders(options: ClientRequestOptions): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  const extra = options.headers ?? {};
  formatHeaderLines(extra); // throws on injection
  for (const name of Object.keys(extra)) {
    if (OWN_HEADERS.has(name.toLowerCase())) continue;
    if (options.origin !== undefined && name.toLowerCase() === 'origin') continue;
    const value = extra[name];
    fields[name] = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : [...value];
  }
  fields.Upgrade = 'websocket';
  fields.Connection = 'Upgrade';
  fields['Sec-WebSocket-Key'] = options.key;
  fields['Sec-WebSocket-Version'] = WEBSOCKET_VERSION;
  const protocols = options.protocols ?? [];
  const problem = checkSubprotocols(protocols);
  if (problem !== null) throw new TypeError(problem);
  if (protocols.length > 0) fields['Sec-WebSocket-Protocol'] = protocols.join(', ');
  const extensions =
    options.extensions === undefined || typeof options.extensions === 'string'
      ? options.extensions
      : formatExtensions(options.extensions);
  if (extensions !== undefined && extensions !== '') fields['Sec-WebSocket-Extensions'] = extensions;
  if (options.origin !== undefined) fields.Origin = options.origin;
  formatHeaderLines(fields); // throws on injection in the key, origin or extensions value
  return fields;
}

/** HandshakeResponse is what the client knows of the handshake response: Node's `res.statusCode` and `res.headers`. */
export interface HandshakeResponse {
  statusCode: number | undefined;
  /** Header values with lowercase names. */
  headers: HeaderMap;
}

/** HandshakeResponseExpectations is what the client sent, against which the response is judged. */
export interface HandshakeResponseExpectations extends HeaderValueOptions {
  /** The key sent in `Sec-WebSocket-Key`. */
  key: string;
  /** The subprotocols offered (default none). */
  protocols?: readonly string[];
  /** The extensions offered (default none); only their names matter here. */
  extensionOffers?: readonly ExtensionOffer[];
}

/** AcceptedHandshakeResponse is a valid 101 response's outcome: the selected subprotocol and extensions. */
export interface AcceptedHandshakeResponse {
  ok: true;
  /** The subprotocol the server selected, or `''` when it selected none. */
  protocol: string;
  /** The extensions the server accepted, parsed, in order (empty when none). */
  extensions: ExtensionOffer[];
  /** The raw `Sec-WebSocket-Extensions` value (`''` when absent), for the extension's own negotiation. */
  extensionsHeader: string;
}

/** RejectedHandshakeResponse says why a response fails the connection, with the status the server sent. */
export interface RejectedHandshakeResponse {
  ok: false;
  status: number | undefined;
  reason: string;
}

/**
 * validateServerResponse judges a server's handshake response against RFC 6455 §4.1 ("the client MUST _Fail the
 * WebSocket Connection_" when any check fails): status 101, `Upgrade: websocket`, `Connection` including `Upgrade`,
 * the expected `Sec-WebSocket-Accept`, a `Sec-WebSocket-Protocol` that is one of the offered subprotocols (and none
 * when none was offered), and `Sec-WebSocket-Extensions` naming only offered extensions, each at most once.
 */
export function validateServerResponse(
  response: HandshakeResponse,
  expected: HandshakeResponseExpectations,
): AcceptedHandshakeResponse | RejectedHandshakeResponse {
  const status = response.statusCode;
  const fail = (reason: string): RejectedHandshakeResponse => ({ ok: false, status, reason });
  const { headers } = response;
  // "If the status code received from the server is not 101, the client handles the response per HTTP procedures."
  if (status !== 101) return fail(`unexpected server response: ${status ?? 'none'}`);
  // "If the response lacks an |Upgrade| header field or the |Upgrade| header field contains a value that is not an
  // ASCII case-insensitive match for the value "websocket", the client MUST _Fail the WebSocket Connection_."
  const upgrade = headerValue(headers, 'upgrade');
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') return fail('invalid Upgrade header');
  // "If the response lacks a |Connection| header field or the |Connection| header field doesn't contain a token that
  // is an ASCII case-insensitive match for the value "Upgrade", the client MUST _Fail the WebSocket Connection_."
  if (!headerHasToken(headers.connection, 'upgrade', expected)) return fail('invalid Connection header');
  // "If the response lacks a |Sec-WebSocket-Accept| header field or the |Sec-WebSocket-Accept| contains a value other
  // than the base64-encoded SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded)
  // with the string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" ... the client MUST _Fail the WebSocket Connection_."
  const accept = headers['sec-websocket-accept'];
  if (typeof accept !== 'string' || accept !== acceptKey(expected.key)) return fail('invalid Sec-WebSocket-Accept header');
  // "If the response includes a |Sec-WebSocket-Protocol| header field and this header field indicates the use of a
  // subprotocol that was not present in the client's handshake ... the client MUST _Fail the WebSocket Connection_."
  let protocol = '';
  const offeredProtocols = expected.protocols ?? [];
  const selected = headers['sec-websocket-protocol'];
  if (selected !== undefined) {
    if (typeof selected !== 'string' || !isToken(selected)) return fail('invalid Sec-WebSocket-Protocol header');
    if (offeredProtocols.length === 0) return fail('server sent a subprotocol but none was requested');
    if (!offeredProtocols.includes(selected)) return fail(`server selected an unoffered subprotocol ${JSON.stringify(selected)}`);
    protocol = selected;
  }
  // "If the response includes a |Sec-WebSocket-Extensions| header field and this header field indicates the use of an
  // extension that was not present in the client's handshake ... the client MUST _Fail the WebSocket Connection_."
  const extensionsHeader = headerValue(headers, 'sec-websocket-extensions') ?? '';
  const parsed = parseExtensions(headers['sec-websocket-extensions'], expected);
  if (!parsed.ok) return fail(parsed.reason);
  const offeredNames = new Set((expected.extensionOffers ?? []).map((offer) => offer.name.toLowerCase()));
  const seen = new Set<string>();
  for (const extension of parsed.value) {
    const name = extension.name.toLowerCase();
    if (!offeredNames.has(name)) return fail(`server accepted an unoffered extension ${JSON.stringify(extension.name)}`);
    if (seen.has(name)) return fail(`server accepted extension ${JSON.stringify(extension.name)} twice`);
    seen.add(name);
  }
  return { ok: true, protocol, extensions: parsed.value, extensionsHeader };
}
