// The benchmark scenarios of issues 2, 3 and 4: which load generator, which servers, which settings (full run and
// --quick), and which numbers each one reports. docs/benchmarks.md explains each.

const num = (v, digits = 0) => (v === null || v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (v) => `${Math.round(v * 100)}%`;

/**
 * @typedef {{ key: string, label: string, better: 'higher' | 'lower', format: (v: number | null) => string }} Metric
 * @typedef {{ id: string, title: string, load: string, mode: 'echo' | 'broadcast' | 'idle', deflate: boolean,
 *   memory: boolean, settle?: boolean, servers: string[], rounds: number, settings: Record<string, unknown>,
 *   quick: Record<string, unknown>, perServer?: Record<string, Record<string, unknown>>,
 *   maxRounds?: Record<string, number>, metrics: Metric[], describe: (r: any) => string,
 *   timeoutMs: (s: any) => number }} Scenario
 */

const msgs = { key: 'rate', label: 'messages/s', better: 'higher', format: (v) => num(v) };
const latency = (key, label) => ({ key, label, better: 'lower', format: (v) => (v === null ? 'incomplete' : `${num(v / 1000, 3)} s`) });
const perConn = (label) => ({ key: 'rssPerConn', label, better: 'lower', format: (v) => `${num(v / 1024, 1)} KiB` });
const delivered = { key: 'deliveredPerSec', label: 'delivered/s', better: 'higher', format: (v) => num(v) };
const echoTimeout = (s) => 60000 + (s.warmupMs ?? 0) + (s.durationMs ?? 0);
const broadcastTimeout = (s) => 300000 + ((s.warmup + s.count) / s.rate) * 1000 + s.drainMs;
const serverCpu = (r) => (r.serverCpu == null ? '' : `, server CPU ${pct(r.serverCpu)}`);
const describeBroadcast = (r) =>
  `p50 ${latency('', '').format(r.p50ms)}, p99 ${latency('', '').format(r.p99ms)}, ${num(r.deliveredPerSec)} delivered/s` +
  `${r.incomplete ? `, ${r.incomplete} incomplete` : ''}${r.closedByServer ? `, ${r.closedByServer} closed by the server` : ''}${r.compressedShare ? `, ${pct(r.compressedShare)} compressed` : ''}, gen CPU ${pct(r.genCpu)}${r.genBusy == null ? '' : ` (${pct(r.genBusy)} while delivering)`}` +
  serverCpu(r) +
  `${r.connectMs === undefined ? '' : `; connected in ${num(r.connectMs / 1000, 1)} s, settled (joined) ${num(r.settledMs / 1000, 1)} s later`}`;

/** SCENARIOS lists every scenario in the order they run. */
export const SCENARIOS = [
  {
    id: 'echo-small',
    title: 'echo of 32-byte text, 100 connections × 16 in flight',
    load: 'echo.mjs',
    mode: 'echo',
    deflate: false,
    memory: false,
    servers: ['hayate', 'ws', 'net', 'uws'],
    rounds: 3,
    settings: { connections: 100, inflight: 16, size: 32, binary: false, warmupMs: 1000, durationMs: 3000 },
    quick: { warmupMs: 300, durationMs: 1000 },
    metrics: [msgs],
    // what the generator could drive at 100% of its core, at its measured CPU cost per message
    describe: (r) => `${num(r.rate)} msg/s, gen CPU ${pct(r.genCpu)} (generator ceiling ≈ ${num(r.rate / r.genCpu)} msg/s)${serverCpu(r)}`,
    timeoutMs: echoTimeout,
  },
  {
    id: 'echo-64k',
    title: 'echo of 64 KiB binary, 10 connections × 4 in flight',
    load: 'echo.mjs',
    mode: 'echo',
    deflate: false,
    memory: false,
    servers: ['hayate', 'ws', 'net', 'uws'],
    // 11 rounds: on a shared host a slow phase of the machine halves a round's speed, for a few seconds at a time and
    // on both cores (docs/benchmarks.md); the median of 11 stays on the machine's usual speed with up to 5 such rounds
    rounds: 11,
    settings: { connections: 10, inflight: 4, size: 65536, binary: true, warmupMs: 1000, durationMs: 3000 },
    quick: { warmupMs: 300, durationMs: 1000 },
    metrics: [{ key: 'mbps', label: 'MB/s', better: 'higher', format: (v) => num(v) }],
    describe: (r) => `${num(r.mbps)} MB/s, gen CPU ${pct(r.genCpu)} (generator ceiling ≈ ${num(r.mbps / r.genCpu)} MB/s)${serverCpu(r)}`,
    timeoutMs: echoTimeout,
  },
  {
    id: 'idle',
    title: 'memory per idle connection, 10,000 connections',
    load: 'idle.mjs',
    mode: 'idle',
    deflate: false,
    memory: true,
    servers: ['hayate', 'ws', 'net', 'uws'],
    rounds: 5,
    settle: true,
    settings: { connections: 10000, concurrency: 200 },
    quick: {},
    metrics: [perConn('RSS per connection, just connected'), { ...perConn('RSS per connection, settled'), key: 'settledRssPerConn' }],
    describe: (r) => `${num(r.rssPerConn / 1024, 2)} KiB RSS/conn (heap ${num(r.heapPerConn / 1024, 2)} KiB), ` +
      `${num(r.settledRssPerConn / 1024, 2)} KiB once settled (${num(r.settledMs / 1000, 1)} s), connected in ${num(r.connectMs)} ms`,
    timeoutMs: () => 120000,
  },
  {
    id: 'deflate-echo',
    title: 'echo of 1,000-byte JSON text with permessage-deflate, 100 connections × 16 in flight',
    load: 'echo.mjs',
    mode: 'echo',
    deflate: true,
    memory: true,
    servers: ['hayate', 'ws', 'uws'],
    rounds: 3,
    settings: { connections: 100, inflight: 16, size: 1000, json: true, deflate: true, warmupMs: 1000, durationMs: 3000, hold: true },
    quick: { warmupMs: 300, durationMs: 1000 },
    metrics: [msgs, perConn('RSS per connection')],
    describe: (r) => `${num(r.rate)} msg/s, ${num(r.rssPerConn / 1024, 1)} KiB RSS/conn, ${pct(r.compressedShare)} compressed, gen CPU ${pct(r.genCpu)}`,
    timeoutMs: echoTimeout,
  },
  {
    id: 'deflate-broadcast',
    title: 'broadcast of 1,000-byte JSON text with permessage-deflate to 1,000 clients, 10/s',
    load: 'broadcast.mjs',
    mode: 'broadcast',
    deflate: true,
    memory: false,
    servers: ['hayate', 'ws', 'uws'],
    rounds: 3,
    settings: { receivers: 1000, rate: 10, warmup: 5, count: 30, size: 1000, deflate: true, drainMs: 20000 },
    quick: { warmup: 2, count: 10, drainMs: 10000 },
    metrics: [latency('p50ms', 'last receipt p50'), latency('p99ms', 'last receipt p99'), delivered],
    describe: describeBroadcast,
    timeoutMs: broadcastTimeout,
  },
  {
    id: 'broadcast',
    title: 'broadcast of a 64-byte chat message to 10,000 clients, 10/s',
    load: 'broadcast.mjs',
    mode: 'broadcast',
    deflate: false,
    memory: false,
    servers: ['hayate', 'hayate-hub', 'ws', 'socketio', 'net', 'uws'],
    rounds: 3,
    // 30 warm-up broadcasts (3 s): after the joins, every server (net too) answers the first 15–20 broadcasts 1.5–2.5×
    // slower than later ones while the processes warm up, and with 10 the p99 (the slowest of 40) measured that
    settings: { receivers: 10000, rate: 10, warmup: 30, count: 40, size: 64, drainMs: 15000 },
    perServer: { socketio: { protocol: 'socketio' }, 'hayate-hub': { protocol: 'hub' } },
    quick: { warmup: 3, count: 10, drainMs: 10000 },
    metrics: [latency('p50ms', 'last receipt p50'), latency('p99ms', 'last receipt p99'), delivered],
    describe: describeBroadcast,
    timeoutMs: broadcastTimeout,
  },
];
