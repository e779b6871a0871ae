/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1) for both ends: the server picks the first acceptable offer of a
 * `Sec-WebSocket-Extensions` header and writes its response; the client writes its offer and judges the response.
 * Options mirror ws's `perMessageDeflate` so ws users find what they know.
 *
 * Rules applied to every offer and response (RFC 7692 §7.1): the parameters are `server_no_context_takeover`,
 * `client_no_context_takeover` (no value), `server_max_window_bits` (8 to 15) and `client_max_window_bits` (8 to 15,
 * or no value in an offer). "A server MUST decline an extension negotiation offer for this extension if any of the
 * following conditions are met": a parameter "not defined for use in an offer", "an invalid value", "multiple
 * extension parameters with the same name", or a configuration it does not support; we then try the next offer. "A
 * client MUST _Fail the WebSocket Connection_ if the peer server accepted an extension negotiation offer for this
 * extension with an extension negotiation response meeting any of the following conditions": the same three, or a
 * window answer it did not allow.
 *
 * What it does not do: tokenize the header (header-values.ts does), check that only offered extensions came back for
 * extensions other than permessage-deflate (client-handshake.ts does), or compress (permessage-deflate.ts does).
 */
import { constants as zlibConstants } from 'node:zlib';
import {
  formatExtensions,
  parseExtensions,
  type ExtensionOffer,
  type ExtensionParam,
  type RawHeaderValue,
} from './header-values.js';
import { DEFAULT_DEFLATE_THRESHOLD, PerMessageDeflate } from './permessage-deflate.js';

export { DEFAULT_DEFLATE_THRESHOLD, PerMessageDeflate } from './permessage-deflate.js';
export type { PerMessageDeflateInit } from './permessage-deflate.js';

/** PERMESSAGE_DEFLATE is the extension's registered name (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** PerMessageDeflateOptions configures permessage-deflate on either end; the names and defaults are ws's. */
export interface PerMessageDeflateOptions {
  /**
   * Server: `true` always answers `server_no_context_takeover` (the cheapest in memory: one shared compressor);
   * `false` declines offers asking for it; unset accepts it when asked. Client: `true` asks for it. Default unset.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: `true` always answers `client_no_context_takeover` (lets the server share one inflater); unset or
   * `false` echoes it only when offered. Client: `true` offers it; `false` fails a response that imposes it.
   * Default unset.
   */
  clientNoContextTakeover?: boolean;
  /**
   * The server's window bits, 8 to 15. Server: answered as `server_max_window_bits` (at most the offered value).
   * Client: asked for as `server_max_window_bits`. Default unset (15, or what the client asks for).
   */
  serverMaxWindowBits?: number;
  /**
   * The client's window bits, 8 to 15, or a boolean. Server: a number limits the client's window and declines offers
   * without `client_max_window_bits`; `false` never answers it. Client: a number offers
   * `client_max_window_bits=N`, `true` or unset offers it without a value (as browsers do), `false` leaves it out.
   * Default unset.
   */
  clientMaxWindowBits?: number | boolean;
  /** Whole messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** Options of the compressor: `level` 0 to 9 (default 6), `memLevel` 1 to 9 (default 8), `strategy` (default 0). */
  zlibDeflateOptions?: { level?: number; memLevel?: number; strategy?: number };
  /**
   * Accepted for ws compatibility and ignored: the inflater's window comes from the negotiation and its output buffer
   * is shared. Default `{}`.
   */
  zlibInflateOptions?: Record<string, unknown>;
  /**
   * Accepted for ws compatibility and ignored: the codec is synchronous, so no zlib operation is ever in flight
   * (docs/decisions/compression-codec.md). Default 10 in ws.
   */
  concurrencyLimit?: number;
}

/** The parameters of one offer or response, parsed and checked. `true` is a valueless client_max_window_bits. */
interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  clientMaxWindowBits: number | true | null;
}

// RFC 7692 §7.1.2.1: the value is "a decimal integer value without leading zeroes between 8 to 15, inclusive".
const WINDOW_BITS = new Map([8, 9, 10, 11, 12, 13, 14, 15].map((n) => [String(n), n]));

/** Parses one element's parameters, or says why it is invalid (unknown, duplicated, or a bad value). */
function parseParams(params: readonly ExtensionParam[], side: 'offer' | 'response'): DeflateParams | string {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      // RFC 7692 §7.1.1.1/§7.1.1.2: "This extension parameter has no value."
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return `parameter ${name} takes no value`;
        if (name === 'server_no_context_takeover') result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = value === true ? undefined : WINDOW_BITS.get(value);
        if (bits === undefined) return `invalid server_max_window_bits ${value === true ? '(no value)' : value}`;
        result.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // RFC 7692 §7.1.2.2: in an offer "This parameter has no value or a decimal integer value without leading
        // zeroes between 8 to 15"; in a response the value is required.
        if (value === true) {
          if (side === 'response') return 'client_max_window_bits without a value in a response';
          result.clientMaxWindowBits = true;
          break;
        }
        const bits = WINDOW_BITS.get(value);
        if (bits === undefined) return `invalid client_max_window_bits ${value}`;
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${rawName}`;
    }
  }
  return result;
}

/** Resolved options: validated, with booleans normalised. Throws a RangeError on API misuse. */
interface ResolvedOptions {
  options: PerMessageDeflateOptions;
  threshold: number;
  level: number;
  memLevel: number;
  strategy: number;
}

function checkWindowBits(name: string, value: unknown): void {
  if (value === undefined || typeof value === 'boolean') return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 8 || value > 15) {
    throw new RangeError(`perMessageDeflate.${name} must be an integer from 8 to 15, got ${String(value)}`);
  }
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`perMessageDeflate.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: PerMessageDeflateOptions | boolean): ResolvedOptions | null {
  if (options === false) return null;
  const opts = options === true ? {} : options;
  checkWindowBits('serverMaxWindowBits', opts.serverMaxWindowBits);
  checkWindowBits('clientMaxWindowBits', opts.clientMaxWindowBits);
  if (typeof opts.serverMaxWindowBits === 'boolean') throw new RangeError('perMessageDeflate.serverMaxWindowBits must be a number');
  const zlibOptions = opts.zlibDeflateOptions ?? {};
  return {
    options: opts,
    threshold: checkInteger('threshold', opts.threshold ?? DEFAULT_DEFLATE_THRESHOLD, 0, Number.MAX_SAFE_INTEGER),
    level: checkInteger('zlibDeflateOptions.level', zlibOptions.level ?? zlibConstants.Z_DEFAULT_COMPRESSION, -1, 9),
    memLevel: checkInteger('zlibDeflateOptions.memLevel', zlibOptions.memLevel ?? zlibConstants.Z_DEFAULT_MEMLEVEL, 1, 9),
    strategy: checkInteger('zlibDeflateOptions.strategy', zlibOptions.strategy ?? zlibConstants.Z_DEFAULT_STRATEGY, 0, 4),
  };
}

function toOffers(header: RawHeaderValue | readonly ExtensionOffer[]): readonly ExtensionOffer[] | null {
  if (Array.isArray(header) && header.length > 0 && typeof header[0] !== 'string') {
    return header as readonly ExtensionOffer[];
  }
  const parsed = parseExtensions(header as RawHeaderValue);
  return parsed.ok ? parsed.value : null;
}

/** PerMessageDeflateNegotiation is what the server answers to an accepted offer, and the codec it will use. */
export interface PerMessageDeflateNegotiation {
  /** The `Sec-WebSocket-Extensions` response value, e.g. `permessage-deflate; client_max_window_bits=15`. */
  response: string;
  /** The codec for this connection, to hand to the core. */
  extension: PerMessageDeflate;
}

/**
 * negotiatePerMessageDeflate is the server side of RFC 7692 §5: it tries the client's permessage-deflate offers in
 * order, declines invalid ones (duplicated or unknown parameter, out-of-range value) and ones the options cannot
 * honour, and accepts the first that remains. Returns the response and the codec, or null when compression is off or
 * no offer is acceptable (the connection then goes on uncompressed). `offerHeader` is the raw header, or the offers
 * already parsed by header-values.ts. Throws a RangeError when `options` themselves are invalid.
 */
export function negotiatePerMessageDeflate(
  offerHeader: RawHeaderValue | readonly ExtensionOffer[],
  options: PerMessageDeflateOptions | boolean,
): PerMessageDeflateNegotiation | null {
  const resolved = resolveOptions(options);
  if (resolved === null) return null;
  const offers = toOffers(offerHeader);
  if (offers === null) return null;
  const opts = resolved.options;
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const params = parseParams(offer.params, 'offer');
    if (typeof params === 'string') continue;

    // RFC 7692 §7.1.1.1: a server accepts server_no_context_takeover by including it; ws's `false` declines it.
    if (params.serverNoContextTakeover && opts.serverNoContextTakeover === false) continue;
    const serverNoContextTakeover = params.serverNoContextTakeover || opts.serverNoContextTakeover === true;
    // RFC 7692 §7.1.1.2: the server may always answer client_no_context_takeover; echoing the client's own hint
    // lets us inflate its messages with the shared context.
    const clientNoContextTakeover = params.clientNoContextTakeover || opts.clientNoContextTakeover === true;

    // RFC 7692 §7.1.2.1: "A server accepts an extension negotiation offer with this parameter by including the
    // "server_max_window_bits" extension parameter in the extension negotiation response to send back to the client
    // with the same or smaller value as the offer." Unasked, a smaller window of ours is the server's own business.
    let serverMaxWindowBits: number | null = params.serverMaxWindowBits;
    if (typeof opts.serverMaxWindowBits === 'number') {
      serverMaxWindowBits = Math.min(opts.serverMaxWindowBits, serverMaxWindowBits ?? 15);
    }

    // RFC 7692 §7.1.2.2: "If a received extension negotiation offer doesn't have the "client_max_window_bits"
    // extension parameter, the corresponding extension negotiation response to the offer MUST NOT include the
    // "client_max_window_bits" extension parameter."
    let clientMaxWindowBits: number | null = null;
    if (typeof opts.clientMaxWindowBits === 'number') {
      if (params.clientMaxWindowBits === null) continue; // we cannot bound this client's window: decline, as ws
      clientMaxWindowBits =
        params.clientMaxWindowBits === true ? opts.clientMaxWindowBits : Math.min(opts.clientMaxWindowBits, params.clientMaxWindowBits);
    } else if (opts.clientMaxWindowBits !== false && typeof params.clientMaxWindowBits === 'number') {
      clientMaxWindowBits = params.clientMaxWindowBits;
    }

    const responseParams: ExtensionParam[] = [];
    if (serverNoContextTakeover) responseParams.push(['server_no_context_takeover', true]);
    if (clientNoContextTakeover) responseParams.push(['client_no_context_takeover', true]);
    if (serverMaxWindowBits !== null) responseParams.push(['server_max_window_bits', String(serverMaxWindowBits)]);
    if (clientMaxWindowBits !== null) responseParams.push(['client_max_window_bits', String(clientMaxWindowBits)]);
    const response = formatExtensions([{ name: PERMESSAGE_DEFLATE, params: responseParams }]);
    const extension = new PerMessageDeflate({
      role: 'server',
      responseHeader: response,
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits: serverMaxWindowBits ?? 15,
      clientMaxWindowBits: clientMaxWindowBits ?? 15,
      threshold: resolved.threshold,
      level: resolved.level,
      memLevel: resolved.memLevel,
      strategy: resolved.strategy,
    });
    return { response, extension };
  }
  return null;
}

/**
 * perMessageDeflateOffer writes the client's `Sec-WebSocket-Extensions` offer from the options, as ws does: by default
 * `permessage-deflate; client_max_window_bits` (what browsers send). Throws a RangeError on invalid options.
 */
export function perMessageDeflateOffer(options: PerMessageDeflateOptions | boolean = true): string {
  const resolved = resolveOptions(options);
  if (resolved === null) return '';
  const opts = resolved.options;
  const params: ExtensionParam[] = [];
  if (opts.serverNoContextTakeover === true) params.push(['server_no_context_takeover', true]);
  if (opts.clientNoContextTakeover === true) params.push(['client_no_context_takeover', true]);
  if (typeof opts.serverMaxWindowBits === 'number') params.push(['server_max_window_bits', String(opts.serverMaxWindowBits)]);
  if (typeof opts.clientMaxWindowBits === 'number') params.push(['client_max_window_bits', String(opts.clientMaxWindowBits)]);
  else if (opts.clientMaxWindowBits !== false) params.push(['client_max_window_bits', true]);
  return formatExtensions([{ name: PERMESSAGE_DEFLATE, params }]);
}

/**
 * acceptPerMessageDeflateResponse is the client side of RFC 7692 §5: it judges the server's `Sec-WebSocket-Extensions`
 * against what `perMessageDeflateOffer(options)` offered. Returns the codec (or null when the server declined), or an
 * error when the client must fail the connection: an extension that was not offered, permessage-deflate twice, an
 * invalid, unknown or duplicated parameter, a window larger than offered, or an offered parameter left unanswered.
 */
export function acceptPerMessageDeflateResponse(
  header: RawHeaderValue | readonly ExtensionOffer[],
  options: PerMessageDeflateOptions | boolean = true,
): { extension: PerMessageDeflate | null } | { error: string } {
  const resolved = resolveOptions(options);
  const offers = toOffers(header);
  if (offers === null) return { error: 'invalid Sec-WebSocket-Extensions in the response' };
  if (offers.length === 0) return { extension: null };
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE || resolved === null) {
      return { error: `the server accepted extension ${offer.name}, which was not offered` };
    }
  }
  if (offers.length > 1 || resolved === null) return { error: 'the server accepted permessage-deflate more than once' };
  const params = parseParams(offers[0].params, 'response');
  if (typeof params === 'string') return { error: `invalid permessage-deflate response: ${params}` };
  const opts = resolved.options;

  // RFC 7692 §7.1.1.1: "A server accepts an extension negotiation offer that includes the
  // "server_no_context_takeover" extension parameter by including the "server_no_context_takeover" extension
  // parameter in the corresponding extension negotiation response".
  if (opts.serverNoContextTakeover === true && !params.serverNoContextTakeover) {
    return { error: 'the server did not accept server_no_context_takeover' };
  }
  if (opts.clientNoContextTakeover === false && params.clientNoContextTakeover) {
    return { error: 'the server imposed client_no_context_takeover, which the options forbid' };
  }
  // RFC 7692 §7.1.2.1: accepted "with the same or smaller value as the offer"; unasked, any valid value.
  if (typeof opts.serverMaxWindowBits === 'number') {
    if (params.serverMaxWindowBits === null) return { error: 'the server did not accept server_max_window_bits' };
    if (params.serverMaxWindowBits > opts.serverMaxWindowBits) {
      return { error: `server_max_window_bits=${params.serverMaxWindowBits} exceeds the offered ${opts.serverMaxWindowBits}` };
    }
  }
  // RFC 7692 §7.1.2.2: the response MUST NOT include client_max_window_bits when the offer did not.
  let clientMaxWindowBits = typeof opts.clientMaxWindowBits === 'number' ? opts.clientMaxWindowBits : 15;
  if (typeof params.clientMaxWindowBits === 'number') {
    if (opts.clientMaxWindowBits === false) return { error: 'the server answered client_max_window_bits, which was not offered' };
    if (params.clientMaxWindowBits > clientMaxWindowBits) {
      return { error: `client_max_window_bits=${params.clientMaxWindowBits} exceeds the offered ${clientMaxWindowBits}` };
    }
    clientMaxWindowBits = params.clientMaxWindowBits;
  }
  const extension = new PerMessageDeflate({
    role: 'client',
    responseHeader: formatExtensions([offers[0]]),
    serverNoContextTakeover: params.serverNoContextTakeover,
    // RFC 7692 §7.1.1.2: offering client_no_context_takeover, the client "is not going to use context takeover"
    // even if the server does not answer it.
    clientNoContextTakeover: params.clientNoContextTakeover || opts.clientNoContextTakeover === true,
    serverMaxWindowBits: params.serverMaxWindowBits ?? 15,
    clientMaxWindowBits,
    threshold: resolved.threshold,
    level: resolved.level,
    memLevel: resolved.memLevel,
    strategy: resolved.strategy,
  });
  return { extension };
}
