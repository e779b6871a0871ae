// The binary frame envelope of the realtime protocol (docs/protocol.md, "Binary frames"): version, room, kind, payload.
// Decoding only reads the header; the hub forwards the whole frame unchanged. It does not know rooms or sockets.

/** BINARY_ENVELOPE_VERSION is the only envelope version this module reads and writes. */
export const BINARY_ENVELOPE_VERSION = 1;

/** BinaryEnvelope is a decoded binary frame: the room it goes to, an application kind label and the payload. */
export interface BinaryEnvelope {
  room: string;
  kind: string;
  /** A view into the frame (not a copy). */
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** encodeBinaryEnvelope builds a binary frame for `room` with `kind` and `payload`; throws when a name is too long. */
export function encodeBinaryEnvelope(room: string, kind: string, payload: Uint8Array): Uint8Array {
  const roomBytes = encoder.encode(room);
  const kindBytes = encoder.encode(kind);
  if (roomBytes.length < 1 || roomBytes.length > 255) throw new RangeError('room must be 1-255 UTF-8 bytes');
  if (kindBytes.length > 255) throw new RangeError('kind must be at most 255 UTF-8 bytes');
  const out = new Uint8Array(3 + roomBytes.length + kindBytes.length + payload.length);
  out[0] = BINARY_ENVELOPE_VERSION;
  out[1] = roomBytes.length;
  out.set(roomBytes, 2);
  out[2 + roomBytes.length] = kindBytes.length;
  out.set(kindBytes, 3 + roomBytes.length);
  out.set(payload, 3 + roomBytes.length + kindBytes.length);
  return out;
}

/** decodeBinaryEnvelope reads a binary frame's envelope, or returns null when it is malformed. */
export function decodeBinaryEnvelope(frame: Uint8Array): BinaryEnvelope | null {
  if (frame.length < 3 || frame[0] !== BINARY_ENVELOPE_VERSION) return null;
  const roomLength = frame[1];
  if (roomLength === 0 || frame.length < 3 + roomLength) return null;
  const kindLength = frame[2 + roomLength];
  const payloadStart = 3 + roomLength + kindLength;
  if (frame.length < payloadStart) return null;
  try {
    const room = decoder.decode(frame.subarray(2, 2 + roomLength));
    const kind = decoder.decode(frame.subarray(3 + roomLength, payloadStart));
    return { room, kind, payload: frame.subarray(payloadStart) };
  } catch {
    return null;
  }
}
