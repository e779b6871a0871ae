/**
 * Frame headers (RFC 6455 §5.2): sizes and encoding of the base header, the 16/64-bit extended payload length and
 * the masking-key slot. Payload handling (masking, coalescing) is in mask.ts and outgoing-queue.ts; parsing is in
 * frame-parser.ts.
 */

/** FrameBits names the bits of the first header byte. */
export const FrameBits = {
  Fin: 0x80,
  Rsv1: 0x40,
  Rsv2: 0x20,
  Rsv3: 0x10,
  OpcodeMask: 0x0f,
  /** Second byte: the MASK bit. */
  Mask: 0x80,
} as const;

/** frameHeaderSize is the header length in bytes for a payload of `payloadLength` bytes, masked or not. */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * writeFrameHeader writes the first byte (FIN, RSV and opcode bits), the MASK bit and the payload length in its
 * minimal form (RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length") at `offset`, and
 * returns the offset after the length: where the masking key goes when `masked`, else the payload.
 */
export function writeFrameHeader(target: Buffer, offset: number, firstByte: number, payloadLength: number, masked: boolean): number {
  target[offset] = firstByte;
  const maskBit = masked ? 0x80 : 0;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
    return offset + 2;
  }
  if (payloadLength < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = payloadLength >>> 8;
    target[offset + 3] = payloadLength & 0xff;
    return offset + 4;
  }
  target[offset + 1] = maskBit | 127;
  target.writeUInt32BE(Math.floor(payloadLength / 0x100000000), offset + 2);
  target.writeUInt32BE(payloadLength >>> 0, offset + 6);
  return offset + 10;
}
