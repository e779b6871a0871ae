// Broadcast load: `receivers` WebSocket connections listen; one more (the control connection) sends a chat message
// `rate` times a second; the server relays each one to every connection. The generator timestamps each send and,
// per broadcast, counts receipts and keeps the time of the last one: the latency of a broadcast is the time from its
// send until its LAST receiver had it. Receipts are matched to broadcasts by order (TCP keeps each connection's
// order and every server sends broadcasts in arrival order), so frames are counted by header, never parsed.
//
// Socket.IO (option `socketio`) is spoken over the same raw frames, Engine.IO v4 / Socket.IO v5 protocol: the
// server's `0{...}` open packet arrives first, the client sends `40` (connect to the main namespace) and gets
// `40{"sid":...}`; then broadcasts arrive as `42["chat",...]` events; the server's Engine.IO pings (`2`, the only
// 1-byte frames) are answered with `3`. The control connection sends `42["chat","<message>"]`.
//
// Options (JSON argv): port, path, receivers, rate (broadcasts/s), warmup (broadcasts not counted), count
// (broadcasts measured), size, deflate, socketio, drainMs (how long to wait for the last receipts), concurrency.
import {
  buildFrame, cpuFraction, deflateMessage, jsonLikeText, newScanState, openConnections, parseOptions, report,
  scanFrames,
} from './ws-client.mjs';

const o = parseOptions();
const receivers = o.receivers ?? 10000;
const rate = o.rate ?? 10;
const warmup = o.warmup ?? 10;
const measured = o.count ?? 50;
const total = warmup + measured;
const size = o.size ?? 64;
const socketio = !!o.socketio;

let message = jsonLikeText(size);
if (socketio) message = Buffer.from(`42["chat",${JSON.stringify('x'.repeat(size))}]`);
const trigger = buildFrame(o.deflate ? deflateMessage(message) : message, { rsv1: !!o.deflate });
const pong = buildFrame(Buffer.from('3'));
const connectNamespace = buildFrame(Buffer.from('40'));
// Socket.IO: the open packet and the connect acknowledgement come before any broadcast
const base = socketio ? 2 : 0;

const sent = new Float64Array(total);
const got = new Int32Array(total);
const last = new Float64Array(total);
let rsv1 = 0;
let deliveredAll = 0;
const states = [];

const sockets = await openConnections({
  port: o.port,
  path: socketio ? '/socket.io/?EIO=4&transport=websocket' : o.path,
  count: receivers + 1,
  concurrency: o.concurrency ?? 200,
  deflate: !!o.deflate,
  onOpen(socket, index, leftover) {
    const st = newScanState();
    states[index] = st;
    const control = index === receivers;
    const onData = (chunk) => {
      const before = st.messages;
      const beforeTiny = st.tiny;
      const beforeRsv1 = st.rsv1;
      scanFrames(st, chunk);
      if (socketio && st.tiny > beforeTiny) for (let p = beforeTiny; p < st.tiny; p++) socket.write(pong);
      if (control || st.messages === before) return;
      rsv1 += st.rsv1 - beforeRsv1;
      const now = performance.now();
      for (let m = before; m < st.messages; m++) {
        const i = m - base;
        if (i >= 0 && i < total) {
          got[i]++;
          last[i] = now;
          deliveredAll++;
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    if (socketio) socket.write(connectNamespace);
    if (leftover.length > 0) onData(leftover);
  },
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
if (socketio) {
  // every connection must have joined before the first broadcast
  const deadline = performance.now() + 30000;
  while (states.some((st) => st.messages < base)) {
    if (performance.now() > deadline) throw new Error('Socket.IO connections did not all get their connect ack');
    await sleep(20);
  }
  await sleep(200);
}

const control = sockets[receivers];
const period = 1000 / rate;
const t0 = performance.now() + 10;
let measureCpu = null;
let measureWall = 0;
for (let i = 0; i < total; i++) {
  const wait = t0 + i * period - performance.now();
  if (wait > 0) await sleep(wait);
  if (i === warmup) {
    measureCpu = process.cpuUsage();
    measureWall = performance.now();
  }
  sent[i] = performance.now();
  control.write(trigger);
}

const drainDeadline = performance.now() + (o.drainMs ?? 30000);
while (performance.now() < drainDeadline) {
  let done = true;
  for (let i = 0; i < total; i++) if (got[i] < receivers) { done = false; break; }
  if (done) break;
  await sleep(20);
}
const genCpu = cpuFraction(measureCpu, measureWall);

const latencies = [];
let incomplete = 0;
let delivered = 0;
let end = 0;
for (let i = warmup; i < total; i++) {
  delivered += got[i];
  // a broadcast that never reached every receiver counts as infinitely slow (reported as null)
  if (got[i] < receivers) incomplete++;
  latencies.push(got[i] < receivers ? Infinity : last[i] - sent[i]);
  if (got[i] > 0 && last[i] > end) end = last[i];
}
latencies.sort((a, b) => a - b);
const pick = (q) => (latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]);
report({
  receivers,
  broadcasts: measured,
  p50ms: pick(0.5),
  p99ms: pick(0.99),
  maxMs: pick(1),
  incomplete,
  deliveredPerSec: end > sent[warmup] ? delivered / ((end - sent[warmup]) / 1000) : 0,
  compressedShare: deliveredAll > 0 ? rsv1 / deliveredAll : 0,
  genCpu,
  closedByServer: states.filter((st) => st.closed).length,
});
for (const s of sockets) s.destroy();
process.exit(0);
