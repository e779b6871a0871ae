/**
 * Frame opcodes (RFC 6455 §5.2 and §11.8). Values 3-7 and 0xB-0xF are reserved and fail the connection with 1002.
 */

/** Opcode names the frame opcodes RFC 6455 defines. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** OpcodeValue is one of the defined opcodes. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** isControlOpcode says whether an opcode is a control frame's (RFC 6455 §5.5: "the most significant bit ... is 1"). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** isKnownOpcode says whether RFC 6455 defines an opcode; the others are reserved. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}
