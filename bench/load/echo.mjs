// Echo load: `connections` WebSocket connections, each keeping `inflight` copies of one pre-built masked frame in
// flight. Every read counts the finished echoes by their headers and writes as many new frames in one write, so each
// connection always has `inflight` messages outstanding. Measures echoed messages/s (and MB/s of payload) after a
// warm-up, the generator's own CPU time over wall time (near 1.0 would mean the generator is the bottleneck) and the
// server's (near 1.0: the server is the bottleneck, as it should be).
//
// Options (JSON argv): port, path, connections, inflight, size, binary, json (JSON-like text payload), deflate
// (permessage-deflate: every message pre-compressed once, RSV1 counted on echoes), warmupMs, durationMs, hold.
import {
  buildFrame, cpuFraction, deflateMessage, holdUntilReleased, jsonLikeText, newScanState, openConnections,
  parseOptions, report, scanFrames, serverCpuClock,
} from './ws-client.mjs';

const o = parseOptions();
const size = o.size ?? 32;
const inflight = o.inflight ?? 16;
const payload = o.json ? jsonLikeText(size) : Buffer.alloc(size, o.binary ? 0xa5 : 0x61);
const body = o.deflate ? deflateMessage(payload) : payload;
const frame = buildFrame(body, { opcode: o.binary ? 2 : 1, rsv1: !!o.deflate });
const burst = Buffer.concat(new Array(inflight).fill(frame));
const frameLen = frame.length;

const states = [];
let total = 0;
let rsv1 = 0;
let sending = false;

const sockets = await openConnections({
  port: o.port,
  path: o.path,
  count: o.connections ?? 100,
  deflate: !!o.deflate,
  onOpen(socket, index) {
    const st = newScanState();
    states[index] = st;
    socket.on('error', () => {});
    return (buf, start, end) => {
      const before = st.messages;
      const beforeRsv1 = st.rsv1;
      scanFrames(st, buf, start, end);
      const k = st.messages - before;
      if (k === 0) return;
      total += k;
      rsv1 += st.rsv1 - beforeRsv1;
      if (sending) socket.write(k === inflight ? burst : burst.subarray(0, k * frameLen));
    };
  },
});

sending = true;
for (const s of sockets) s.write(burst);
if (o.trace) {
  // debugging aid: echoes per 250 ms on stderr, to see stalls
  let seen = 0;
  setInterval(() => {
    process.stderr.write(`${total - seen} `);
    seen = total;
  }, 250).unref();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const server = serverCpuClock(o.port);
await sleep(o.warmupMs ?? 1000);
server?.start();
const startCount = total;
const startRsv1 = rsv1;
const startWall = performance.now();
const startCpu = process.cpuUsage();
await sleep(o.durationMs ?? 4000);
const seconds = (performance.now() - startWall) / 1000;
const count = total - startCount;
const genCpu = cpuFraction(startCpu, startWall);
const serverCpu = server?.share() ?? null;
sending = false;

const closedBy = states.filter((st) => st.closed).length;
report({
  messages: count,
  rate: count / seconds,
  mbps: (count * size) / seconds / 1e6,
  genCpu,
  serverCpu,
  compressedShare: count > 0 ? (rsv1 - startRsv1) / count : 0,
  closedByServer: closedBy,
});
if (o.hold) await holdUntilReleased();
for (const s of sockets) s.destroy();
process.exit(0);
