// Header-value tokenizers for the opening handshake: RFC 7230 §3.2.6 token / quoted-string grammar and §7 list
// syntax, applied to `Sec-WebSocket-Protocol` (RFC 6455 §4.1, §11.3.4), `Sec-WebSocket-Extensions` (RFC 6455 §9.1)
// and the plain token lists of `Connection` / `Upgrade`.
//
// Every tokenizer is one left-to-right pass over the characters, no regular expression, no backtracking, so an
// attacker's header costs linear time; every input is first bounded by `maxLength`.
//
// What this module does not do: parse HTTP (Node does), decide which extension parameters are acceptable
// (deflate-params.ts does for permessage-deflate), or fold duplicate header lines (Node joins them with ", ").

import { DEFAULT_MAX_HEADER_VALUE_LENGTH } from './limits.js';

export { DEFAULT_MAX_HEADER_VALUE_LENGTH };

/** ExtensionParam is one extension parameter: its name and its value, or `true` when it had no value. */
export type ExtensionParam = [name: string, value: string | true];

/** ExtensionOffer is one element of a `Sec-WebSocket-Extensions` list: the extension's name and its parameters in order. */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

/** HeaderParseResult is what a tokenizer returns: the parsed value, or the reason the header is invalid. */
export type HeaderParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** HeaderValueOptions bounds a tokenizer's input. */
export interface HeaderValueOptions {
  /** Longest header value accepted, in UTF-16 code units (default {@link DEFAULT_MAX_HEADER_VALUE_LENGTH}). */
  maxLength?: number;
}

/** A header value as Node reports it: one string, several lines, or absent. */
export type RawHeaderValue = string | readonly string[] | undefined;

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
//                          / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** isToken tells whether `value` is a non-empty RFC 7230 token. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTchar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * isFieldValue tells whether `value` may be sent as an HTTP header value: no CR, LF, NUL or other control character
 * except horizontal tab (RFC 7230 §3.2 field-content), which is what stops header injection.
 */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < SP && c !== HTAB) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** Joins Node's header forms into one string, or reports it too long. */
function joinHeader(value: RawHeaderValue, maxLength: number): HeaderParseResult<string> {
  let text: string;
  if (value === undefined) text = '';
  else if (typeof value === 'string') text = value;
  else {
    let total = 0;
    for (const line of value) total += line.length + 2;
    if (total > maxLength + 2) return { ok: false, reason: 'header value too long' };
    text = value.join(', ');
  }
  if (text.length > maxLength) return { ok: false, reason: 'header value too long' };
  return { ok: true, value: text };
}

/**
 * A cursor over one header value. Each method advances `pos` and never moves it back, which is what keeps every
 * tokenizer linear.
 */
class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  // RFC 7230 §3.2.3: OWS = *( SP / HTAB )
  skipOws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== SP && c !== HTAB) break;
      this.pos++;
    }
  }

  token(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isTchar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  // RFC 7230 §3.2.6: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
  //   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text;  quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
  // Returns the unescaped content, or null when the string is malformed or unterminated.
  quotedString(): string | null {
    this.pos++; // opening DQUOTE
    let out = '';
    let runStart = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c === DQUOTE) {
        out += this.text.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c === BACKSLASH) {
        out += this.text.slice(runStart, this.pos);
        const next = this.text.charCodeAt(this.pos + 1);
        if (!(next === HTAB || (next >= SP && next !== 0x7f && next <= 0xff))) return null;
        out += this.text[this.pos + 1];
        this.pos += 2;
        runStart = this.pos;
        continue;
      }
      if (!(c === HTAB || (c >= SP && c !== 0x7f && c <= 0xff))) return null;
      this.pos++;
    }
    return null;
  }

  /**
   * Moves past the list separator after an element: OWS, then a comma (followed by any empty elements) or the end.
   * Returns false when something else follows.
   */
  endOfElement(): boolean {
    this.skipOws();
    if (this.done) return true;
    if (this.peek() !== COMMA) return false;
    this.skipEmptyElements();
    return true;
  }

  // RFC 7230 §7: "a recipient MUST accept empty list elements" in its legacy-compatible form:
  // #element => [ ( "," / element ) *( OWS "," [ OWS element ] ) ]
  skipEmptyElements(): void {
    this.skipOws();
    while (this.peek() === COMMA) {
      this.pos++;
      this.skipOws();
    }
  }
}

/**
 * parseTokenList parses a comma-separated list of tokens (`Connection`, `Sec-WebSocket-Protocol`), keeping the tokens'
 * case and order; empty elements are skipped as RFC 7230 §7 requires. Returns the reason on any non-token element.
 */
export function parseTokenList(value: RawHeaderValue, options: HeaderValueOptions = {}): HeaderParseResult<string[]> {
  if (value === undefined) return { ok: true, value: [] };
  const joined = joinHeader(value, options.maxLength ?? DEFAULT_MAX_HEADER_VALUE_LENGTH);
  if (!joined.ok) return joined;
  const cursor = new Cursor(joined.value);
  const tokens: string[] = [];
  cursor.skipEmptyElements();
  while (!cursor.done) {
    const token = cursor.token();
    if (token.length === 0) return { ok: false, reason: `invalid character at offset ${cursor.pos}` };
    tokens.push(token);
    if (!cursor.endOfElement()) return { ok: false, reason: `invalid character at offset ${cursor.pos}` };
  }
  return { ok: true, value: tokens };
}

/**
 * headerHasToken tells whether a token list (`Connection`, `Upgrade`) contains `token`, compared ASCII
 * case-insensitively. Elements of the form `name/version` (RFC 7230 §6.7 protocol) are compared by the whole element.
 * A malformed list contains nothing.
 */
export function headerHasToken(value: RawHeaderValue, token: string, options: HeaderValueOptions = {}): boolean {
  // The usual request says just the token (`Upgrade: websocket`, `Connection: Upgrade`): answered without allocating,
  // as every handshake asks this twice.
  if (typeof value === 'string' && isTokenIgnoringCase(value, token)) return true;
  const joined = joinHeader(value, options.maxLength ?? DEFAULT_MAX_HEADER_VALUE_LENGTH);
  if (!joined.ok) return false;
  const wanted = token.toLowerCase();
  const cursor = new Cursor(joined.value);
  cursor.skipEmptyElements();
  while (!cursor.done) {
    let element = cursor.token();
    if (element.length === 0) return false;
    if (cursor.peek() === 0x2f /* "/" */) {
      cursor.pos++;
      const version = cursor.token();
      if (version.length === 0) return false;
      element += '/' + version;
    }
    if (element.toLowerCase() === wanted) return true;
    if (!cursor.endOfElement()) return false;
  }
  return false;
}

/** isTokenIgnoringCase tells whether `value` is exactly the token `token`, ASCII letters compared case-insensitively. */
function isTokenIgnoringCase(value: string, token: string): boolean {
  if (value.length !== token.length || !isToken(token)) return false;
  for (let i = 0; i < value.length; i++) {
    const a = value.charCodeAt(i);
    const b = token.charCodeAt(i);
    if (a === b) continue;
    // ASCII letters differ in case by 0x20 alone; every other token character must match exactly.
    if ((a | 0x20) !== (b | 0x20) || (a | 0x20) < 0x61 || (a | 0x20) > 0x7a) return false;
  }
  return true;
}

/**
 * parseSubprotocols parses a client's `Sec-WebSocket-Protocol` header: RFC 6455 §4.1 "The elements that comprise this
 * value MUST be non-empty strings with characters in the range U+0021 to U+007E not including separator characters as
 * defined in [RFC2616] and MUST all be unique strings." An absent header gives an empty list. Duplicates (compared
 * exactly, as the server echoes the exact value) and non-token elements are invalid.
 */
export function parseSubprotocols(value: RawHeaderValue, options: HeaderValueOptions = {}): HeaderParseResult<string[]> {
  const list = parseTokenList(value, options);
  if (!list.ok) return { ok: false, reason: `invalid Sec-WebSocket-Protocol: ${list.reason}` };
  if (list.value.length < 2) return list;
  const seen = new Set<string>();
  for (const protocol of list.value) {
    if (seen.has(protocol)) return { ok: false, reason: `duplicate subprotocol ${JSON.stringify(protocol)}` };
    seen.add(protocol);
  }
  return list;
}

/**
 * parseExtensions parses a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1):
 * ```
 * extension-list = 1#extension
 * extension = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 * "When using the quoted-string syntax variant, the value after quoted-string unescaping MUST conform to the 'token'
 * ABNF." An absent header gives an empty list. Parameter names and values are returned verbatim, in order, duplicates
 * included: judging them is the extension's business.
 */
export function parseExtensions(value: RawHeaderValue, options: HeaderValueOptions = {}): HeaderParseResult<ExtensionOffer[]> {
  if (value === undefined) return { ok: true, value: [] };
  const joined = joinHeader(value, options.maxLength ?? DEFAULT_MAX_HEADER_VALUE_LENGTH);
  if (!joined.ok) return joined;
  const cursor = new Cursor(joined.value);
  const offers: ExtensionOffer[] = [];
  const fail = (what: string): HeaderParseResult<ExtensionOffer[]> => ({
    ok: false,
    reason: `invalid Sec-WebSocket-Extensions: ${what} at offset ${cursor.pos}`,
  });
  cursor.skipEmptyElements();
  while (!cursor.done) {
    const name = cursor.token();
    if (name.length === 0) return fail('expected an extension name');
    const offer: ExtensionOffer = { name, params: [] };
    offers.push(offer);
    cursor.skipOws();
    while (cursor.peek() === SEMICOLON) {
      cursor.pos++;
      cursor.skipOws();
      const param = cursor.token();
      if (param.length === 0) return fail('expected a parameter name');
      cursor.skipOws();
      if (cursor.peek() !== EQUALS) {
        offer.params.push([param, true]);
        continue;
      }
      cursor.pos++;
      cursor.skipOws();
      let paramValue: string | null;
      if (cursor.peek() === DQUOTE) {
        paramValue = cursor.quotedString();
        if (paramValue === null) return fail('malformed quoted-string');
        if (!isToken(paramValue)) return fail('quoted parameter value is not a token');
      } else {
        paramValue = cursor.token();
        if (paramValue.length === 0) return fail('expected a parameter value');
      }
      offer.params.push([param, paramValue]);
      cursor.skipOws();
    }
    if (!cursor.endOfElement()) return fail('unexpected character');
  }
  return { ok: true, value: offers };
}

/**
 * formatExtensions writes offers as a `Sec-WebSocket-Extensions` value (`a; x; y=1, b`), the inverse of
 * {@link parseExtensions}. Throws a TypeError when a name or value is not a token, since such a value could not be
 * parsed back (and could inject header lines).
 */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (!isToken(offer.name)) throw new TypeError(`invalid extension name ${JSON.stringify(offer.name)}`);
    let part = offer.name;
    for (const [name, value] of offer.params) {
      if (!isToken(name)) throw new TypeError(`invalid extension parameter name ${JSON.stringify(name)}`);
      if (value === true) part += `; ${name}`;
      else if (isToken(value)) part += `; ${name}=${value}`;
      else throw new TypeError(`invalid extension parameter value ${JSON.stringify(value)}`);
    }
    parts.push(part);
  }
  return parts.join(', ');
}
