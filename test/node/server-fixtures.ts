// Fixtures for the server and transport tests: a WebSocketServer on 127.0.0.1 port 0 closed after the test, a `ws`
// client, and a raw TCP client that does the handshake by hand and speaks frames byte by byte (for bad input).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { WebSocketServer, type WebSocketServerOptions } from '../../src/node/index.js';

export interface Started {
  wss: WebSocketServer;
  port: number;
  url: string;
}

/** startServer listens on 127.0.0.1:0 and closes the server (and its connections) when the test ends. */
export async function startServer(t: TestContext, options: Omit<WebSocketServerOptions, 'port'> = {}): Promise<Started> {
  const wss = new WebSocketServer({ host: '127.0.0.1', heartbeatInterval: 0, closeTimeout: 2000, ...options, port: 0 });
  t.after(() => closeServer(wss));
  await once(wss, 'listening');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { wss, port: address.port, url: `ws://127.0.0.1:${address.port}` };
}

/** closeServer terminates every connection and closes the server. */
export async function closeServer(wss: WebSocketServer): Promise<void> {
  for (const c of wss.clients ?? []) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** openWs connects a `ws` client and resolves once it is open; it is terminated when the test ends. */
export async function openWs(t: TestContext, url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  t.after(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
  return ws;
}

/** wsClose waits for a ws client's close event. */
export function wsClose(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return new Promise((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), wasClean: code !== 1006 }));
  });
}

/** RawClient is a TCP client past a hand-made handshake, collecting everything the server sends. */
export interface RawClient {
  socket: Socket;
  /** Everything received after the 101 response. */
  received(): Buffer;
  /** Resolves when the server closed TCP (end or close). */
  ended: Promise<void>;
  /** Resolves with the bytes received once at least `n` arrived. */
  waitFor(n: number): Promise<Buffer>;
}

export const GOOD_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** upgradeRequest writes an opening handshake request. */
export function upgradeRequest(port: number, extra: Record<string, string> = {}, path = '/'): string {
  const headers: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': GOOD_KEY,
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** rawConnect opens TCP, optionally sends a handshake, and collects the response. */
export async function rawConnect(t: TestContext, port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** rawHttp sends bytes and resolves with everything received until the server closes. */
export async function rawHttp(t: TestContext, port: number, request: string): Promise<string> {
  const socket = await rawConnect(t, port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(request);
  await Promise.race([once(socket, 'end'), once(socket, 'close')]);
  return Buffer.concat(chunks).toString('latin1');
}

/** rawWebSocket does the handshake over raw TCP and returns a client that collects the server's frames. */
export async function rawWebSocket(t: TestContext, port: number, path = '/'): Promise<RawClient> {
  const socket = await rawConnect(t, port);
  let chunks: Buffer[] = [];
  let length = 0;
  let upgraded = false;
  const buffer = (): Buffer => {
    if (chunks.length > 1) chunks = [Buffer.concat(chunks)];
    return chunks[0] ?? Buffer.alloc(0);
  };
  const waiters: { n: number; resolve: (b: Buffer) => void }[] = [];
  const check = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (length >= waiters[i].n) {
        waiters[i].resolve(buffer());
        waiters.splice(i, 1);
      }
    }
  };
  const opened = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (!upgraded) {
        const all = buffer();
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = all.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(head));
        upgraded = true;
        chunks = [all.subarray(end + 4)];
        length = chunks[0].length;
        resolve();
      }
      check();
    });
  });
  const ended = new Promise<void>((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
  socket.write(upgradeRequest(port, {}, path));
  await opened;
  return {
    socket,
    received: buffer,
    ended,
    waitFor: (n) => new Promise((resolve) => {
      waiters.push({ n, resolve });
      check();
    }),
  };
}

export interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Buffer | string;
  /** Send unmasked (a violation for a client). */
  unmasked?: boolean;
  /** Announce this length instead of the payload's (bigint for 64-bit). */
  length?: bigint;
}

/** clientFrame builds a client frame (masked unless told), possibly announcing a length it does not carry. */
export function clientFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const length = spec.length ?? BigInt(payload.length);
  const first = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  const maskBit = spec.unmasked === true ? 0 : 0x80;
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([first, maskBit | Number(length)]);
  } else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (spec.unmasked === true) return Buffer.concat([header, payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i & 3];
  return Buffer.concat([header, key, masked]);
}

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** parseServerFrames splits unmasked server frames (stops at an incomplete one). */
export function parseServerFrames(bytes: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const fin = (bytes[at] & 0x80) !== 0;
    const opcode = bytes[at] & 0x0f;
    let len = bytes[at + 1] & 0x7f;
    let off = at + 2;
    if (len === 126) {
      if (off + 2 > bytes.length) break;
      len = bytes.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      if (off + 8 > bytes.length) break;
      len = Number(bytes.readBigUInt64BE(off));
      off += 8;
    }
    if (off + len > bytes.length) break;
    frames.push({ fin, opcode, payload: bytes.subarray(off, off + len) });
    at = off + len;
  }
  return frames;
}

/** closeCodeOf reads the code of the first Close frame in bytes, or null. */
export function closeCodeOf(bytes: Buffer): number | null {
  const close = parseServerFrames(bytes).find((f) => f.opcode === 8);
  if (close === undefined) return null;
  return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
}
