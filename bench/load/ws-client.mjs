// The load generator's WebSocket client side: a hand-written RFC 6455 client over raw `net` sockets, built to
// cost as little CPU as possible so that the server under test is the bottleneck, never the generator.
//
// - Opening handshake (RFC 6455 §4.1) written by hand with a fixed Sec-WebSocket-Key; the 101 is checked for its
//   status line and, when permessage-deflate was offered, for the extension in the response (RFC 7692 §5).
// - Frames (RFC 6455 §5.2) are built once per scenario: masked with a fixed key (§5.3 asks for an unpredictable key
//   per frame; a benchmark client on loopback has no intermediary to protect, so one key is reused), and optionally
//   compressed once with a fresh raw-deflate context (RFC 7692 §7.2.1, the 0x00 0x00 0xff 0xff tail removed).
// - Received frames are counted by scanning their headers only (`scanFrames`): no per-frame allocation, no unmasking
//   (servers do not mask), no inflating (RSV1 is counted, the payload is skipped).
// - Reads land in one buffer shared by every socket of the process (`net.connect`'s `onread`): no allocation per read
//   either; handlers must be done with the bytes when they return.
// - The loads' CPU readings: their own (`cpuFraction`) and the server's (`serverCpuClock`, through /proc).
//
// Not a conforming client: no UTF-8 checks, no close handshake (sockets are destroyed), pings from the server are
// counted and not answered. Never use it outside the benchmark.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import zlib from 'node:zlib';

/** The fixed masking key every generated frame uses. */
export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** The handshake key; its accept value is not checked (the status line is). */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/**
 * buildFrame makes one complete masked client frame.
 * @param {Buffer} payload the (possibly already compressed) payload
 * @param {{ opcode?: number, rsv1?: boolean }} [options] opcode defaults to 1 (text), rsv1 to false
 * @returns {Buffer}
 */
export function buildFrame(payload, options = {}) {
  const opcode = options.opcode ?? 1;
  const len = payload.length;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extra + 4 + len);
  frame[0] = 0x80 | (options.rsv1 ? 0x40 : 0) | opcode;
  if (extra === 0) {
    frame[1] = 0x80 | len;
  } else if (extra === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  const maskAt = 2 + extra;
  MASK.copy(frame, maskAt);
  const dataAt = maskAt + 4;
  for (let i = 0; i < len; i++) frame[dataAt + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

/**
 * deflateMessage compresses one message as permessage-deflate does with no context takeover: a fresh raw deflate
 * stream, flushed with Z_SYNC_FLUSH, its 0x00 0x00 0xff 0xff tail removed (RFC 7692 §7.2.1).
 * @param {Buffer} payload
 * @returns {Buffer}
 */
export function deflateMessage(payload) {
  const out = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/**
 * jsonLikeText makes a deterministic JSON chat message of exactly `size` bytes (ASCII), like a realtime app sends.
 * @param {number} size
 * @returns {Buffer}
 */
export function jsonLikeText(size) {
  const words = 'the quick brown fox jumps over a lazy dog while hayate ships frames to every room member'.split(' ');
  const head = size >= 200
    ? '{"type":"chat","room":"general","id":"m-000042","user":{"id":"u-1234","name":"kaze"},"ts":1764030000000,"text":"'
    : '{"type":"chat","room":"general","text":"';
  const tail = '"}';
  let text = '';
  for (let i = 0; text.length < size - head.length - tail.length; i++) text += (i > 0 ? ' ' : '') + words[i % words.length];
  const out = Buffer.from(head + text.slice(0, Math.max(0, size - head.length - tail.length)) + tail);
  if (out.length !== size) throw new Error(`jsonLikeText: cannot make ${size} bytes (got ${out.length})`);
  return out;
}

/**
 * newScanState makes the per-connection state of `scanFrames`.
 */
export function newScanState() {
  return {
    /** Payload bytes of the current frame still to skip. */
    skip: 0,
    /** A header split across reads is gathered here (at most 14 bytes). */
    hdr: Buffer.alloc(14),
    hdrLen: 0,
    /** Final data frames with a payload of 2 bytes or more: the messages the scenarios count. */
    messages: 0,
    /** Final data frames with a 0- or 1-byte payload: Engine.IO pings ("2") in the Socket.IO scenario. */
    tiny: 0,
    /** Final data frames whose first frame had RSV1 set (compressed messages). */
    rsv1: 0,
    /** Control frames seen (ping, pong, close). */
    control: 0,
    /** True once a Close frame arrived. */
    closed: false,
    // the frame whose payload is being skipped
    curFinData: false,
    curRsv1: false,
    curTiny: false,
    inMessageRsv1: false,
  };
}

function headerLength(b1) {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

function payloadLength(buf, at, b1) {
  const len7 = b1 & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return buf.readUInt16BE(at + 2);
  return buf.readUInt32BE(at + 2) * 2 ** 32 + buf.readUInt32BE(at + 6);
}

function startFrame(st, b0, len) {
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  if (opcode >= 8) {
    st.control++;
    if (opcode === 8) st.closed = true;
    st.curFinData = false;
  } else {
    if (opcode !== 0) st.inMessageRsv1 = (b0 & 0x40) !== 0;
    st.curFinData = fin;
    st.curRsv1 = st.inMessageRsv1;
    st.curTiny = len <= 1;
  }
  st.skip = len;
  if (len === 0) endFrame(st);
}

function endFrame(st) {
  if (!st.curFinData) return;
  if (st.curTiny) st.tiny++;
  else {
    st.messages++;
    if (st.curRsv1) st.rsv1++;
  }
  st.curFinData = false;
}

/**
 * scanFrames advances `st` over `buf[start, end)`: counts finished messages (`st.messages`, `st.tiny`, `st.rsv1`) and
 * control frames by reading frame headers only, for any split of the byte stream. Allocates nothing.
 * @param {ReturnType<typeof newScanState>} st
 * @param {Buffer} buf
 * @param {number} [start] default 0
 * @param {number} [end] default buf.length
 */
export function scanFrames(st, buf, start = 0, end = buf.length) {
  const n = end;
  let i = start;
  while (i < n) {
    if (st.skip > 0) {
      const take = st.skip < n - i ? st.skip : n - i;
      st.skip -= take;
      i += take;
      if (st.skip === 0) endFrame(st);
      continue;
    }
    if (st.hdrLen === 0 && n - i >= 2) {
      const b1 = buf[i + 1];
      const hl = headerLength(b1);
      if (n - i >= hl) {
        const len = payloadLength(buf, i, b1);
        const b0 = buf[i];
        i += hl;
        startFrame(st, b0, len);
        continue;
      }
    }
    // a header split across reads: gather it byte by byte
    st.hdr[st.hdrLen++] = buf[i++];
    if (st.hdrLen >= 2 && st.hdrLen === headerLength(st.hdr[1])) {
      const len = payloadLength(st.hdr, 0, st.hdr[1]);
      st.hdrLen = 0;
      startFrame(st, st.hdr[0], len);
    }
  }
}

/** The read buffer every socket shares (reads are handled one at a time, synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(65536);

/**
 * openConnections opens `count` WebSocket connections to 127.0.0.1:`port`, at most `concurrency` handshakes at a
 * time, and resolves with the sockets once all are open. `onOpen(socket, index)` is called as each handshake
 * completes and returns the connection's reader `(buf, start, end) => void`, which gets every byte after the 101
 * response (the sockets emit no 'data' events: reads go through the shared buffer).
 * @param {{ port: number, count: number, path?: string, deflate?: boolean, concurrency?: number,
 *           onOpen: (socket: net.Socket, index: number) => (buf: Buffer, start: number, end: number) => void }} options
 * @returns {Promise<net.Socket[]>}
 */
export function openConnections(options) {
  const { port, count, onOpen } = options;
  const path = options.path ?? '/';
  const concurrency = options.concurrency ?? 200;
  const ext = options.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n' : '';
  const request = Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`,
  );
  const sockets = new Array(count);
  return new Promise((resolve, reject) => {
    let next = 0;
    let opened = 0;
    let failed = false;
    const fail = (err) => {
      if (failed) return;
      failed = true;
      for (const s of sockets) s?.destroy();
      reject(err);
    };
    const start = () => {
      if (failed || next >= count) return;
      const index = next++;
      let reader = null;
      let head = Buffer.alloc(0);
      let open = false;
      const socket = net.connect({
        port,
        host: '127.0.0.1',
        noDelay: true,
        onread: {
          buffer: READ_BUFFER,
          callback: (nread, buf) => {
            if (reader !== null) reader(buf, 0, nread);
            else onHandshakeData(buf.subarray(0, nread));
          },
        },
      });
      sockets[index] = socket;
      const onHandshakeData = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16384) fail(new Error('handshake response too long'));
          return;
        }
        open = true;
        const text = head.subarray(0, end).toString('latin1');
        if (!text.startsWith('HTTP/1.1 101')) return fail(new Error(`handshake refused: ${text.split('\r\n')[0]}`));
        if (options.deflate && !/^sec-websocket-extensions:.*permessage-deflate/im.test(text)) {
          return fail(new Error('the server did not accept permessage-deflate'));
        }
        reader = onOpen(socket, index);
        if (head.length > end + 4) reader(head, end + 4, head.length);
        opened++;
        if (opened === count) resolve(sockets);
        else start();
      };
      socket.on('error', (err) => {
        if (!open) fail(new Error(`connection ${index}: ${err.message}`));
      });
      socket.on('close', () => {
        if (!open && !failed) fail(new Error(`connection ${index} closed during the handshake`));
      });
      socket.write(request);
    };
    for (let i = 0; i < Math.min(concurrency, count); i++) start();
  });
}

/**
 * holdUntilReleased prints HOLD and resolves when the orchestrator writes a line (or closes) on stdin: the
 * connections stay open meanwhile so the server's memory can be measured with them.
 * @returns {Promise<void>}
 */
export function holdUntilReleased() {
  return new Promise((resolve) => {
    process.stdout.write('HOLD\n');
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
    process.stdin.resume();
  });
}

/**
 * parseOptions reads the scenario options: a JSON object as the first argument.
 * @returns {Record<string, any>}
 */
export function parseOptions() {
  return JSON.parse(process.argv[2] ?? '{}');
}

/**
 * report prints the one RESULT line the orchestrator reads.
 * @param {Record<string, unknown>} result
 */
export function report(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/**
 * cpuFraction is the CPU time (user + system) used since `startCpu`, divided by the wall time since `startWall`.
 * @param {NodeJS.CpuUsage} startCpu
 * @param {number} startWall performance.now() at the start
 */
export function cpuFraction(startCpu, startWall) {
  const cpu = process.cpuUsage(startCpu);
  const wallUs = (performance.now() - startWall) * 1000;
  return (cpu.user + cpu.system) / wallUs;
}

/**
 * serverCpuClock finds the process listening on 127.0.0.1:`port` through Linux's /proc (the socket's inode in
 * /proc/net/tcp, then the process holding it) and returns a clock over its CPU time (user + system, from
 * /proc/<pid>/stat): `start()` marks the beginning of the window, `share()` is the CPU time since then divided by the
 * wall time, the same measure as genCpu. Null when /proc is unavailable or the process cannot be found: the result
 * then has no serverCpu, nothing else changes.
 * @param {number} port
 */
export function serverCpuClock(port) {
  let pid = null;
  try {
    const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    let inode = null;
    for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(hexPort) && f[3] === '0A') inode = f[9];
    }
    if (inode === null) return null;
    const target = `socket:[${inode}]`;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      let fds;
      try {
        fds = readdirSync(`/proc/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          if (readlinkSync(`/proc/${entry}/fd/${fd}`) === target) pid = Number(entry);
        } catch {
          // closed meanwhile
        }
        if (pid !== null) break;
      }
      if (pid !== null) break;
    }
  } catch {
    return null;
  }
  if (pid === null) return null;
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux)
  const ticks = () => {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  let startTicks = 0;
  let startWall = 0;
  return {
    start() {
      startTicks = ticks();
      startWall = performance.now();
    },
    share() {
      try {
        return ((ticks() - startTicks) * 10) / (performance.now() - startWall);
      } catch {
        return null;
      }
    },
  };
}
