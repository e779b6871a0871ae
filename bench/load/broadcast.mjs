// Broadcast load: `receivers` WebSocket connections listen; one more (the control connection) sends a chat message
// `rate` times a second; the server relays each one to every connection. The generator timestamps each send and,
// per broadcast, counts receipts and keeps the time of the last one: the latency of a broadcast is the time from its
// send until its LAST receiver had it. Receipts are matched to broadcasts by order (TCP keeps each connection's
// order and every server sends broadcasts in arrival order), so frames are counted by header, never parsed.
//
// Socket.IO (protocol `socketio`) is spoken over the same raw frames, Engine.IO v4 / Socket.IO v5 protocol: the
// server's `0{...}` open packet arrives first, the client sends `40` (connect to the main namespace) and gets
// `40{"sid":...}`; then broadcasts arrive as `42["chat",...]` events; the server's Engine.IO pings (`2`, the only
// 1-byte frames) are answered with `3`. The control connection sends `42["chat","<message>"]`.
// hayate's realtime hub (protocol `hub`, docs/protocol.md) is spoken the same way: the server sends `welcome`, the
// client sends `{"type":"join","room":"bench"}` and gets `joined`; the control connection sends
// `{"type":"chat","room":"bench","text":"..."}` (64 bytes in all) and every member gets the hub's chat message.
// Whatever the server sends before the first broadcast (handshake replies, presence) is waited out: the generator
// waits until no receiver got anything for 300 ms and counts broadcasts from there.
//
// Options (JSON argv): port, path, receivers, rate (broadcasts/s), warmup (broadcasts not counted), count
// (broadcasts measured), size, deflate, protocol (raw | socketio | hub), drainMs (how long to wait for the last
// receipts), settleMs (how long the connections may take to settle before the first broadcast), concurrency.
import {
  buildFrame, cpuFraction, deflateMessage, jsonLikeText, newScanState, openConnections, parseOptions, report,
  scanFrames, serverCpuClock,
} from './ws-client.mjs';

const o = parseOptions();
const receivers = o.receivers ?? 10000;
const rate = o.rate ?? 10;
const warmup = o.warmup ?? 10;
const measured = o.count ?? 50;
const total = warmup + measured;
const size = o.size ?? 64;
const protocol = o.protocol ?? 'raw';
const socketio = protocol === 'socketio';

let message = jsonLikeText(size);
let path = o.path ?? '/';
let greeting = null; // what each connection sends once open
let greetWhenAllOpen = false; // send it only once every connection is open
let expected = 0; // frames each connection gets before it is ready
if (socketio) {
  message = Buffer.from(`42["chat",${JSON.stringify('x'.repeat(size))}]`);
  path = '/socket.io/?EIO=4&transport=websocket';
  greeting = buildFrame(Buffer.from('40'));
  expected = 2;
} else if (protocol === 'hub') {
  const head = '{"type":"chat","room":"bench","text":"';
  message = Buffer.from(`${head}${'x'.repeat(Math.max(1, size - head.length - 2))}"}`);
  path = o.path ?? '/ws?name=bench';
  greeting = buildFrame(Buffer.from('{"type":"join","room":"bench"}'));
  expected = 2;
  // joins cost the hub more than handshakes: joining while others still shake hands would starve those handshakes
  greetWhenAllOpen = true;
}
const trigger = buildFrame(o.deflate ? deflateMessage(message) : message, { rsv1: !!o.deflate });
const pong = buildFrame(Buffer.from('3'));
// per connection: messages received before the first broadcast (set once the connections are quiet)
const bases = new Float64Array(receivers + 1).fill(Infinity);

const sent = new Float64Array(total);
const got = new Int32Array(total);
const last = new Float64Array(total);
// the generator's own CPU time (µs) when each broadcast was sent and when its last receipt was processed: how busy
// the generator was while a broadcast was on its way tells whether it waited for the server or the server for it
const cpuAtSend = new Float64Array(total);
const cpuAtLast = new Float64Array(total);
const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
let rsv1 = 0;
let deliveredAll = 0;
const states = [];

// looked up before the connections exist, while the server has few file descriptors to search
const server = serverCpuClock(o.port);
const connectStart = performance.now();
const sockets = await openConnections({
  port: o.port,
  path,
  count: receivers + 1,
  concurrency: o.concurrency ?? 200,
  deflate: !!o.deflate,
  onOpen(socket, index) {
    const st = newScanState();
    states[index] = st;
    const control = index === receivers;
    const onData = (buf, start, end) => {
      const before = st.messages;
      const beforeTiny = st.tiny;
      const beforeRsv1 = st.rsv1;
      scanFrames(st, buf, start, end);
      if (socketio && st.tiny > beforeTiny) for (let p = beforeTiny; p < st.tiny; p++) socket.write(pong);
      if (control || st.messages === before) return;
      rsv1 += st.rsv1 - beforeRsv1;
      const now = performance.now();
      const base = bases[index];
      for (let m = before; m < st.messages; m++) {
        const i = m - base;
        if (i >= 0 && i < total) {
          if (++got[i] === receivers) cpuAtLast[i] = cpuNow();
          last[i] = now;
          deliveredAll++;
        }
      }
    };
    socket.on('error', () => {});
    if (greeting !== null && !greetWhenAllOpen) socket.write(greeting);
    return onData;
  },
});

const connectMs = performance.now() - connectStart;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const settleStart = performance.now();
if (greetWhenAllOpen) for (const s of sockets) s.write(greeting);
{
  // every connection must have its handshake replies, then the server must go quiet, before the first broadcast
  const deadline = performance.now() + (o.settleMs ?? 120000);
  const count = () => states.reduce((sum, st) => sum + st.messages, 0);
  let seen = -1;
  while (states.some((st) => st.messages < expected) || count() !== seen) {
    if (performance.now() > deadline) throw new Error(`connections did not settle (${count()} frames before the first broadcast)`);
    seen = count();
    await sleep(300);
  }
  for (let i = 0; i <= receivers; i++) bases[i] = states[i].messages;
}
// the time from the last handshake until every receiver had its handshake replies (for the hub: its `joined`), the
// quiet period that proves it (300 ms) not included
const settledMs = Math.max(0, performance.now() - settleStart - 300);

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
    server?.start();
  }
  cpuAtSend[i] = cpuNow();
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
const serverCpu = server?.share() ?? null;

const latencies = [];
let incomplete = 0;
let delivered = 0;
let end = 0;
let busyCpu = 0;
let busyWall = 0;
for (let i = warmup; i < total; i++) {
  delivered += got[i];
  if (got[i] >= receivers) {
    busyCpu += cpuAtLast[i] - cpuAtSend[i];
    busyWall += (last[i] - sent[i]) * 1000;
  }
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
  // CPU share of the generator from each send to that broadcast's last receipt (complete broadcasts): near 100%
  // means it was reading all the time and the latency includes its own queueing; well below, it waited for the server
  genBusy: busyWall > 0 ? busyCpu / busyWall : null,
  // the server process's CPU share over the same window as genCpu (null where /proc cannot tell)
  serverCpu,
  closedByServer: states.filter((st) => st.closed).length,
  connectMs,
  settledMs,
});
for (const s of sockets) s.destroy();
process.exit(0);
