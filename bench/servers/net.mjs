// The platform baseline: a bare Node `net` server that speaks just enough RFC 6455 to pump the same bytes. It answers
// the upgrade by hand (§4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID))), parses frame headers minimally,
// unmasks each payload while copying it into one output buffer per read (bufferutil's native mask for long pieces,
// as ws uses), and writes every frame of that read back, unmasked, in ONE write. Broadcast: the messages finished in a
// read are framed once and the same Buffer is written to every socket (one write per socket per read, as a server
// that batches the writes of a tick does).
//
// Deliberately not a WebSocket server: no validation at all (no UTF-8, limits, fragments, extensions); control
// frames are dropped, a Close destroys the socket. It shows what the platform costs, nothing more.
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fail, mode, port, ready } from './common.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
let nativeMask = null;
try {
  nativeMask = createRequire(import.meta.url)('bufferutil').mask;
} catch {
  nativeMask = null;
}

const sockets = new Set();
const broadcast = mode === 'broadcast';

/** Per-connection scratch bytes: a header split across reads at 0..13, the masking key rotated by 0..3 at 16.. */
const HDR = 0;
const MASKS = 16;

/**
 * copyUnmasked writes `length` bytes of `src` from `at` to `out` at `o`, unmasked with the key in `scratch` rotated
 * by `phase` (how many payload bytes came before, so that a payload split across reads unmasks natively too).
 */
function copyUnmasked(src, at, length, scratch, phase, out, o) {
  if (nativeMask !== null && length >= 256) {
    const key = MASKS + 4 * phase;
    nativeMask(src.subarray(at, at + length), scratch.subarray(key, key + 4), out, o, length);
    return;
  }
  for (let k = 0; k < length; k++) out[o + k] = src[at + k] ^ scratch[MASKS + ((phase + k) & 3)];
}

function headerLength(b1) {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

function onConnection(socket) {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let head = null;
  // allocated on the first frame, so an idle connection costs what a bare socket (plus these closures) costs
  let scratch = null;
  let hdrLen = 0;
  let remaining = 0;
  let phase = 0;
  let keep = false; // the current frame is a data frame we pass on
  let big = null; // a frame whose payload spans reads: its own buffer, written once it is complete
  let bigAt = 0;

  const onFrameData = (chunk) => {
    // frames that end in this read are unmasked into `out` (one allocation per read, like the read itself)
    const out = Buffer.allocUnsafe(chunk.length + 14);
    scratch ??= Buffer.alloc(32);
    let o = 0;
    let frameStart = 0;
    let runStart = 0; // echo: start of the finished frames in `out` not yet queued
    const writes = [];
    const finish = () => {
      let frame;
      if (big !== null) {
        frame = big;
        big = null;
        if (!broadcast) {
          if (o > runStart) writes.push(out.subarray(runStart, o));
          writes.push(frame);
          runStart = o;
        }
      } else {
        frame = out.subarray(frameStart, o);
      }
      if (broadcast) writes.push(frame);
    };
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (remaining > 0) {
        const take = remaining < n - i ? remaining : n - i;
        if (keep && big !== null) {
          copyUnmasked(chunk, i, take, scratch, phase, big, bigAt);
          bigAt += take;
        } else if (keep) {
          copyUnmasked(chunk, i, take, scratch, phase, out, o);
          o += take;
        }
        phase = (phase + take) & 3;
        remaining -= take;
        i += take;
        if (remaining === 0 && keep) finish();
        continue;
      }
      // gather a header (usually all in this read)
      let src = chunk;
      let at = i;
      if (hdrLen === 0 && n - i >= 2 && n - i >= headerLength(chunk[i + 1])) {
        i += headerLength(chunk[i + 1]);
      } else {
        scratch[HDR + hdrLen++] = chunk[i++];
        if (hdrLen < 2 || hdrLen < headerLength(scratch[HDR + 1])) continue;
        src = scratch;
        at = HDR;
        hdrLen = 0;
      }
      const b0 = src[at];
      const b1 = src[at + 1];
      const len7 = b1 & 0x7f;
      let len = len7;
      let extra = 0;
      if (len7 === 126) {
        len = src.readUInt16BE(at + 2);
        extra = 2;
      } else if (len7 === 127) {
        len = src.readUInt32BE(at + 2) * 2 ** 32 + src.readUInt32BE(at + 6);
        extra = 8;
      }
      for (let r = 0; r < 4; r++) for (let k = 0; k < 4; k++) scratch[MASKS + 4 * r + k] = src[at + 2 + extra + ((r + k) & 3)];
      const opcode = b0 & 0x0f;
      if (opcode === 8) {
        socket.destroy();
        return;
      }
      keep = opcode < 8;
      remaining = len;
      phase = 0;
      if (keep) {
        // the unmasked header: same first byte, same length encoding, no mask bit and no key
        let dst = out;
        let d = o;
        if (len > n - i) {
          big = Buffer.allocUnsafe(2 + extra + len);
          dst = big;
          d = 0;
          bigAt = 2 + extra;
        } else {
          frameStart = o;
          o += 2 + extra;
        }
        dst[d] = b0;
        dst[d + 1] = len7;
        for (let k = 0; k < extra; k++) dst[d + 2 + k] = src[at + 2 + k];
        if (len === 0) finish();
      }
    }
    if (broadcast) {
      // the messages finished in this read go to every socket in one write each
      if (writes.length > 0) sendToAll(writes.length === 1 ? writes[0] : Buffer.concat(writes));
      return;
    }
    if (o > runStart) writes.push(out.subarray(runStart, o));
    if (writes.length === 1) socket.write(writes[0]);
    else if (writes.length > 1) {
      socket.cork();
      for (const w of writes) socket.write(w);
      socket.uncork();
    }
  };

  const onHandshake = (chunk) => {
    head = head === null ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    const text = head.subarray(0, end).toString('latin1');
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(text);
    if (!key) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const accept = crypto.createHash('sha1').update(key[1] + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.off('data', onHandshake);
    socket.on('data', onFrameData);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const rest = head.subarray(end + 4);
    head = null;
    if (rest.length > 0) onFrameData(rest);
  };
  socket.on('data', onHandshake);
}

function sendToAll(frame) {
  for (const s of sockets) s.write(frame);
}

try {
  const server = net.createServer(onConnection);
  server.listen({ port, host: '127.0.0.1' }, () => ready(server.address().port));
} catch (err) {
  fail(err);
}
