/**
 * The interface a per-message extension (RFC 7692 permessage-deflate) implements for the core.
 *
 * The core knows only this interface: it decides when RSV1 is allowed (RFC 6455 §5.2, RFC 7692 §6), hands the
 * payloads of compressed messages to `decompress`, and asks `compress` for outgoing ones. Negotiation and zlib live in
 * deflate-params.ts and permessage-deflate.ts.
 */
import type { ProtocolError } from './errors.js';

/** MessageExtension is one negotiated per-message compression extension, as the core uses it. */
export interface MessageExtension {
  /** The extension's name, e.g. `'permessage-deflate'`. */
  readonly name: string;
  /** The negotiated `Sec-WebSocket-Extensions` value. */
  readonly responseHeader: string;
  /**
   * Inflates one frame's payload of a message whose first frame had RSV1; fin marks the message's last frame.
   * Returns the inflated bytes, or a ProtocolError (1009 when output would pass `limit` bytes, 1007 for corrupt data).
   */
  decompress(payload: Buffer, fin: boolean, limit: number): Buffer | ProtocolError;
  /** Compresses a whole outgoing message, or returns null to send it uncompressed (e.g. under the threshold). */
  compress(payload: Buffer): Buffer | null;
  /** Compresses one fragment of a streamed message (fin = last); all fragments of a message are compressed. */
  compressFragment(payload: Buffer, fin: boolean): Buffer;
  /** Names the compressed bytes this connection can share with others (same parameters, no server context takeover), or null. */
  readonly shareKey: string | null;
  /** Frees zlib state when the connection ends. */
  release(): void;
}
