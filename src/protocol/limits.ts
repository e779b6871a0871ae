/**
 * Every default limit of the protocol layer, in one place (DESIGN.md principle 5, "bounded by default").
 * docs/limits.md explains them for users. Drivers read their defaults from here too.
 */

/**
 * DEFAULT_MAX_PAYLOAD bounds one received message after reassembly and inflation: 100 MiB, as in ws, so a ws user
 * moving over sees the same limit. Going over fails the connection with 1009 before the bytes are buffered.
 */
export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

/** MAX_CONTROL_PAYLOAD is RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const MAX_CONTROL_PAYLOAD = 125;

/** MAX_CLOSE_REASON_BYTES is 125 minus the 2-byte status code (RFC 6455 §5.5.1): the longest UTF-8 close reason. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** MAX_FRAME_HEADER_BYTES is the largest frame header: 2 bytes, an 8-byte extended length and a 4-byte mask. */
export const MAX_FRAME_HEADER_BYTES = 14;

/**
 * MAX_SAFE_PAYLOAD_LENGTH is the largest frame length we can represent exactly (2^53 - 1). Longer frames fail with
 * 1009 (RFC 6455 allows 2^63 - 1, which no one can buffer anyway).
 */
export const MAX_SAFE_PAYLOAD_LENGTH = Number.MAX_SAFE_INTEGER;

/**
 * COALESCE_MAX_BYTES: frames whose total size is below this are copied into a shared slab so the frames queued
 * between two `takeOutgoing()` calls leave in one Buffer (one write). Bigger payloads pass through uncopied as their
 * own chunk: past a few KiB a copy costs more than the extra iovec entry it saves.
 */
export const COALESCE_MAX_BYTES = 4 * 1024;

/**
 * SEND_SLAB_BYTES is the size of the slab that small outgoing frames are written into, shared by all connections of
 * the process (like Node's 8 KiB Buffer pool), so an idle connection holds no send buffer. Kept small because a
 * frame waiting on a slow socket keeps its whole slab alive.
 */
export const SEND_SLAB_BYTES = 16 * 1024;

/** MASK_POOL_BYTES: masking keys come from a crypto-random pool of this size, refilled when used up (2,048 keys). */
export const MASK_POOL_BYTES = 8 * 1024;

/**
 * PREALLOCATE_MAX_BYTES: while a message is reassembled, a frame's whole destination is allocated at its first piece
 * when the frame ends within this many message bytes (256 KiB, four 64 KiB socket reads); past it the destination
 * grows geometrically with the bytes that actually arrive. It is the most a peer can make us allocate beyond twice
 * what it sent (docs/decisions/fused-unmask.md).
 */
export const PREALLOCATE_MAX_BYTES = 256 * 1024;

/** DEFAULT_CLOSE_TIMEOUT_MS: how long a driver waits for the peer to complete the closing handshake (30 s, as ws). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

/** DEFAULT_HANDSHAKE_TIMEOUT_MS: how long an opening handshake may take before the driver gives up (10 s). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** DEFAULT_HEARTBEAT_INTERVAL_MS: how often a server pings each connection; silent ones are cut after a round (30 s). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;

/**
 * DEFAULT_MAX_HEADER_VALUE_LENGTH bounds one handshake header value given to a tokenizer (8 KiB): Node already caps
 * the whole header block (16 KiB), this keeps a tokenizer's work per value small and linear.
 */
export const DEFAULT_MAX_HEADER_VALUE_LENGTH = 8192;
