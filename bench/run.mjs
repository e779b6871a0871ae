#!/usr/bin/env node
// `npm run bench` (after `npm run build`): runs every scenario against every server under test, several rounds each,
// the server pinned to core 0 and the load generator to core 1 (taskset), each in its own process; prints medians,
// spread (min–max) and ratios vs ws and vs the bare `net` baseline in one table, and writes that table as Markdown to
// bench/results/latest.md. See docs/benchmarks.md for what each scenario measures and why the generator is not the
// bottleneck.
//
//   node bench/run.mjs [--quick] [--only <scenario>[,<scenario>]] [--servers <name>[,<name>]] [--rounds <n>]
//                      [--settle-naturally]
//
// Servers print `READY <port>`, `FAILED <reason>` or `SKIP <reason>` (bench/servers/common.mjs); a server that fails
// gives a "failed (reason)" row and the run goes on. Memory is read from the server itself after two forced GCs
// (`--expose-gc`), before the load connects and while it holds its connections open; the idle scenario measures it
// twice, right after connecting and once V8 has shrunk the young generation the connection burst grew (`settle`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMarkdown, formatText, summarize } from './lib/report.mjs';
import { SCENARIOS } from './lib/scenarios.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { quick: false, only: null, servers: null, rounds: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only = argv[++i].split(',');
    else if (a === '--servers') args.servers = argv[++i].split(',');
    else if (a === '--rounds') args.rounds = Number(argv[++i]);
    else if (a === '--settle-naturally') args.settleNaturally = true;
    else if (a === '--help' || a === '-h') {
      console.log(`usage: node bench/run.mjs [--quick] [--only <scenario,...>] [--servers <name,...>] [--rounds <n>] ` +
        `[--settle-naturally]\n` +
        '--settle-naturally: the idle scenario waits for V8 to shrink its young generation by itself (up to 60 s) ' +
        'instead of collecting once a second until it does\n' +
        `scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`);
      process.exit(0);
    } else {
      console.error(`unknown argument ${a} (try --help)`);
      process.exit(2);
    }
  }
  if (args.only) {
    for (const id of args.only) {
      if (!SCENARIOS.some((s) => s.id === id)) {
        console.error(`unknown scenario ${id}; scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`);
        process.exit(2);
      }
    }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const fdLimit = Number(spawnSync('/bin/sh', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n']).stdout?.toString().trim());
if (fdLimit < 10100) console.warn(`open files limit ${fdLimit}: the 10,000-connection scenarios will fail (raise the hard limit)`);
if (!pinned) console.warn('taskset is not available: servers and the load generator are NOT pinned to separate cores');

/** shellCommand wraps a node command so it runs on `core`, with the fd limit raised (65,536, else the hard limit). */
function shellCommand(core, nodeArgs) {
  const quoted = [process.execPath, ...nodeArgs].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  return `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pinned ? `taskset -c ${core} ` : ''}${quoted}`;
}

/** Child is one spawned process with a line reader over its stdout and the tail of its stderr kept for reasons. */
class Child {
  constructor(core, nodeArgs, env) {
    this.proc = spawn('/bin/sh', ['-c', shellCommand(core, nodeArgs)], {
      cwd: join(here, '..'),
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    this.exited = null;
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      this.#wake();
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.proc.stdin.on('error', () => {});
    live.add(this);
    this.proc.on('exit', (code, signal) => {
      live.delete(this);
      this.exited = { code, signal };
      this.#wake();
    });
  }

  #wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** next resolves with the first unread line that starts with one of `prefixes`, or rejects on exit or timeout. */
  async next(prefixes, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idx = this.lines.findIndex((l) => prefixes.some((p) => l.startsWith(p)));
      if (idx >= 0) return this.lines.splice(0, idx + 1).pop();
      if (this.exited) throw new Error(`exited (${this.exited.signal ?? this.exited.code})${this.#why()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${prefixes.join('/')}${this.#why()}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  #why() {
    const lines = this.stderr.trim().split('\n').filter(Boolean);
    // a stack trace: the error line says more than the last frames
    const error = lines.find((l) => /^\s*(\w*Error|FAILED)\b/.test(l));
    const err = error ?? lines.slice(-2).join(' | ');
    return err ? `: ${err.trim().slice(0, 300)}` : '';
  }

  send(line) {
    if (!this.exited) this.proc.stdin.write(`${line}\n`);
  }

  async stop() {
    if (this.exited) return;
    this.proc.stdin.end();
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    while (!this.exited) await new Promise((r) => this.waiters.push(r));
    clearTimeout(t);
  }
}

async function memory(server, command = 'mem') {
  server.send(command);
  const line = await server.next(['MEM '], 75000);
  return JSON.parse(line.slice(4));
}

/** runOnce runs one round of one scenario against one server: { ok: true, result } | { ok: false, reason, skip? }. */
async function runOnce(scenario, serverName, settings) {
  const server = new Child(0, ['--expose-gc', join(here, 'servers', `${serverName}.mjs`)], {
    BENCH_MODE: scenario.mode,
    BENCH_DEFLATE: scenario.deflate ? '1' : '0',
  });
  let load = null;
  try {
    let line;
    try {
      line = await server.next(['READY ', 'FAILED ', 'SKIP '], 20000);
    } catch (err) {
      return { ok: false, reason: `did not start: ${err.message}` };
    }
    if (line.startsWith('SKIP ')) return { ok: false, skip: true, reason: line.slice(5) };
    if (line.startsWith('FAILED ')) return { ok: false, reason: line.slice(7) };
    const port = Number(line.slice(6));
    const before = scenario.memory ? await memory(server) : null;
    const options = { ...settings, ...scenario.perServer?.[serverName], port };
    load = new Child(1, [join(here, 'load', scenario.load), JSON.stringify(options)], {});
    const limitMs = scenario.timeoutMs(settings);
    let result;
    try {
      const raceServer = server.next(['FAILED '], limitMs).then((l) => { throw new Error(`server failed: ${l.slice(7)}`); });
      raceServer.catch(() => {});
      const resultLine = await Promise.race([load.next(['RESULT '], limitMs), raceServer]);
      result = JSON.parse(resultLine.slice(7));
      if (scenario.memory) {
        await load.next(['HOLD'], 10000);
        const after = await memory(server);
        const n = result.connections ?? settings.connections;
        result.rssPerConn = (after.rss - before.rss) / n;
        result.heapPerConn = (after.heapUsed - before.heapUsed) / n;
        result.gc = after.gc;
        if (scenario.settle) {
          const settled = await memory(server, args.settleNaturally ? 'settle natural' : 'settle');
          if (!settled.shrunk) throw new Error(`the young generation did not shrink within ${settled.settledMs} ms`);
          result.settledRssPerConn = (settled.rss - before.rss) / n;
          result.settledMs = settled.settledMs;
        }
        load.send('release');
      }
    } catch (err) {
      const died = server.exited ? ` (server exited: ${server.exited.signal ?? server.exited.code})` : '';
      return { ok: false, reason: `${err.message.startsWith('server') ? '' : 'load: '}${err.message}${died}` };
    }
    if (server.exited) return { ok: false, reason: `server exited during the run (${server.exited.signal ?? server.exited.code})` };
    return { ok: true, result };
  } finally {
    await load?.stop();
    await server.stop();
  }
}

function machine() {
  const cpus = os.cpus();
  let distro = '';
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    distro = '';
  }
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `Linux ${os.release()}${distro ? ` (${distro})` : ''}, Node ${process.version}`;
}

const selected = SCENARIOS.filter((s) => !args.only || args.only.includes(s.id));
const live = new Set(); // children running now, stopped on SIGINT/SIGTERM

/** writeResults writes the rows so far to bench/results/latest.md (marked partial until the last scenario). */
function writeResults(complete) {
  const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const md = formatMarkdown(rows, {
    date: startedAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    machine: machine(),
    command: command === 'node bench/run.mjs' ? 'npm run bench' : command,
    pinned,
    elapsed: Math.round((Date.now() - t0) / 1000),
  });
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'latest.md'), complete ? md : `**Partial run** (interrupted or still running).\n\n${md}`);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`\n${signal}: stopping; the scenarios finished so far are in bench/results/latest.md`);
    for (const child of live) child.proc.kill('SIGKILL');
    process.exit(130);
  });
}
const skipped = new Map(); // server -> reason, once it said SKIP
const rows = [];
const startedAt = new Date();
console.log(`hayate bench: ${selected.map((s) => s.id).join(', ')}${args.quick ? ' (quick)' : ''}; ${machine()}`);
console.log(pinned ? 'servers on core 0, load generator on core 1 (taskset)' : 'NOT pinned');
const t0 = Date.now();

for (const scenario of selected) {
  const settings = args.quick ? { ...scenario.settings, ...scenario.quick } : scenario.settings;
  const rounds = args.rounds ?? (args.quick ? 1 : scenario.rounds);
  const servers = scenario.servers.filter((s) => !args.servers || args.servers.includes(s));
  const runs = new Map(servers.map((s) => [s, { results: [], failures: [] }]));
  console.log(`\n== ${scenario.id}: ${scenario.title} (${rounds} round${rounds > 1 ? 's' : ''})`);
  for (let r = 0; r < rounds; r++) {
    // rotate the order each round so that no server always runs first (or last) on a busy machine
    const order = servers.map((_, i) => servers[(i + r) % servers.length]);
    for (const name of order) {
      const run = runs.get(name);
      if (skipped.has(name) || run.failures.length > 0) continue;
      if (r >= (scenario.maxRounds?.[name] ?? Infinity)) continue;
      const outcome = await runOnce(scenario, name, settings);
      if (outcome.ok) {
        run.results.push(outcome.result);
        console.log(`  round ${r + 1} ${name.padEnd(9)} ${scenario.describe(outcome.result)}`);
      } else if (outcome.skip) {
        skipped.set(name, outcome.reason);
        console.log(`  ${name}: skipped (${outcome.reason})`);
      } else {
        run.failures.push(outcome.reason);
        console.log(`  round ${r + 1} ${name.padEnd(9)} failed (${outcome.reason})`);
      }
    }
  }
  rows.push(...summarize(scenario, runs, skipped));
  // after each scenario, so that an interrupted run keeps what it measured
  writeResults(scenario === selected.at(-1));
}

const elapsed = Math.round((Date.now() - t0) / 1000);
console.log(`\n${formatText(rows)}`);
console.log(`\nwritten to bench/results/latest.md (${elapsed} s)`);
