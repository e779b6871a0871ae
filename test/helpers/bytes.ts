/**
 * Byte helpers for protocol tests: hex literals, every split of a stream, and frame builders for raw input.
 * Test-only; the builders deliberately allow invalid frames (that is what they are for).
 */
import { randomBytes } from 'node:crypto';

/** hex turns `'81 05 48 65'` (spaces, newlines and `|` ignored) into a Buffer. */
export function hex(text: string): Buffer {
  const clean = text.replace(/[\s|]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex literal: ${text}`);
  return Buffer.from(clean, 'hex');
}

/** toHex formats bytes as spaced lowercase hex (for readable assertion messages). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** AllChunkingsOptions bound `allChunkings`. */
export interface AllChunkingsOptions {
  /** Up to this length every one of the 2^(n-1) partitions is produced. Default 10. */
  exhaustiveUpTo?: number;
  /** At most this many two-way split points are produced (spread evenly). Default 512. */
  maxSplits?: number;
}

/**
 * allChunkings yields ways to deliver `bytes` as a sequence of chunks: whole, one byte at a time (up to 4 KiB),
 * every two-way split (bounded) and, for short inputs, every partition. Every chunk is a fresh copy, because the
 * core owns and unmasks what it receives.
 */
export function* allChunkings(bytes: Uint8Array, options: AllChunkingsOptions = {}): Generator<Buffer[]> {
  const n = bytes.length;
  const exhaustiveUpTo = options.exhaustiveUpTo ?? 10;
  const maxSplits = options.maxSplits ?? 512;
  const copy = (start: number, end: number): Buffer => Buffer.from(bytes.subarray(start, end));
  yield [copy(0, n)];
  if (n <= 1) return;
  if (n <= exhaustiveUpTo) {
    for (let mask = 1; mask < 1 << (n - 1); mask++) {
      const chunks: Buffer[] = [];
      let start = 0;
      for (let i = 1; i < n; i++) {
        if (mask & (1 << (i - 1))) {
          chunks.push(copy(start, i));
          start = i;
        }
      }
      chunks.push(copy(start, n));
      yield chunks;
    }
    return;
  }
  if (n <= 4096) {
    const single: Buffer[] = [];
    for (let i = 0; i < n; i++) single.push(copy(i, i + 1));
    yield single;
  }
  const step = Math.max(1, Math.ceil((n - 1) / maxSplits));
  for (let i = 1; i < n; i += step) yield [copy(0, i), copy(i, n)];
}

/** FrameSpec describes one raw frame for `frame()`. */
export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** A 4-byte key (masks the payload), `true` for a random key, or false/undefined for none. */
  mask?: Uint8Array | boolean;
  /** Force the length form: 7, 16 or 64 bits. Default: minimal. */
  lengthForm?: 7 | 16 | 64;
  /** Override the announced length (the payload is still what is given). */
  announcedLength?: bigint | number;
}

/** frame encodes a raw frame, valid or not. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : Buffer.from(spec.payload ?? []);
  const announced = BigInt(spec.announcedLength ?? payload.length);
  const form = spec.lengthForm ?? (announced < 126n ? 7 : announced < 65536n ? 16 : 64);
  const b0 = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | spec.opcode;
  const key = spec.mask === true ? randomBytes(4) : spec.mask ? Buffer.from(spec.mask) : null;
  const maskBit = key ? 0x80 : 0;
  let header: Buffer;
  if (form === 7) header = Buffer.from([b0, maskBit | Number(announced)]);
  else if (form === 16) {
    header = Buffer.from([b0, maskBit | 126, 0, 0]);
    header.writeUInt16BE(Number(announced), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = b0;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(announced, 2);
  }
  const body = Buffer.from(payload);
  if (key) for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat(key ? [header, key, body] : [header, body]);
}

/** clientFrame is `frame` masked with a random key, as a client sends it. */
export function clientFrame(spec: FrameSpec): Buffer {
  return frame({ mask: true, ...spec });
}

/** closePayload builds a Close frame body from a code and a reason. */
export function closePayload(code: number, reason: string | Uint8Array = ''): Buffer {
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  const out = Buffer.alloc(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  reasonBytes.copy(out, 2);
  return out;
}

/** ParsedFrame is one frame decoded by `parseFrames` (payload unmasked). */
export interface ParsedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  key: Buffer | null;
  payload: Buffer;
}

/**
 * parseFrames decodes a complete stream of frames (an independent, simple decoder used to check what the core
 * sends); throws on a truncated stream.
 */
export function parseFrames(bytes: Uint8Array | Uint8Array[]): ParsedFrame[] {
  const data = Array.isArray(bytes) ? Buffer.concat(bytes) : Buffer.from(bytes);
  const frames: ParsedFrame[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + 2 > data.length) throw new Error('truncated frame header');
    const b0 = data[at];
    const b1 = data[at + 1];
    let length = b1 & 0x7f;
    at += 2;
    if (length === 126) {
      length = data.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(at));
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | null = null;
    if (masked) {
      key = Buffer.from(data.subarray(at, at + 4));
      at += 4;
    }
    if (at + length > data.length) throw new Error('truncated frame payload');
    const payload = Buffer.from(data.subarray(at, at + length));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    at += length;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      key,
      payload,
    });
  }
  return frames;
}
