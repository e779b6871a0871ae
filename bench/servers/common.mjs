// What every server under test shares: its configuration from the environment, the READY/FAILED lines the
// orchestrator (run.mjs) waits for, and the `mem` and `settle [natural]` commands on stdin that print the process's
// memory after forced GCs.
//
// Environment: BENCH_MODE = echo | broadcast | idle (idle servers run the echo logic; nobody sends), BENCH_DEFLATE = 1
// to enable permessage-deflate (threshold 0: every message compressed), BENCH_PORT (default 0: any free port).

import v8 from 'node:v8';

/** The scenario logic the server runs. */
export const mode = process.env.BENCH_MODE ?? 'echo';
/** True when permessage-deflate must be enabled. */
export const deflate = process.env.BENCH_DEFLATE === '1';
/** The port to listen on (0: the kernel picks). */
export const port = Number(process.env.BENCH_PORT ?? 0);

/**
 * ready prints READY <port> once the server listens, and starts answering `mem` lines on stdin.
 * @param {number} actualPort
 */
export function ready(actualPort) {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line === 'mem') void measureMemory();
      else if (line === 'settle' || line === 'settle natural') void settleThenMeasure(line === 'settle natural');
    }
  });
  process.stdin.on('end', () => process.exit(0));
  youngAtStart = youngGenerationBytes();
  process.stdout.write(`READY ${actualPort}\n`);
}

let youngAtStart = 0;

function youngGenerationBytes() {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * settleThenMeasure measures memory once the server is in the state V8 leaves an idle process in. A burst of
 * connections grows V8's young generation to its maximum (two 16 MiB semi-spaces whatever the server; at 10,000
 * connections 1.8–2.5 KiB each of it is in RSS, depending on how much garbage the handshakes left), and V8 shrinks it
 * again at the first collection that sees a low allocation rate over the last 5 seconds. Left alone (`natural`), an idle server gets there by itself, through V8's memory reducer, some
 * 15–35 s after the burst. Otherwise one collection a second gets there in about 6 s, the same way for every server.
 * Prints MEM with `settledMs`, how long it took.
 * @param {boolean} natural true: wait for V8 to do it, without forcing collections (at most 60 s)
 */
async function settleThenMeasure(natural) {
  const started = performance.now();
  const grown = youngGenerationBytes();
  const shrunk = () => youngGenerationBytes() <= youngAtStart || youngGenerationBytes() < grown;
  for (let i = 0; i < (natural ? 60 : 30) && !shrunk(); i++) {
    if (!natural) globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 1000));
  }
  await measureMemory({ settledMs: Math.round(performance.now() - started), shrunk: shrunk() });
}

/** @param {Record<string, unknown>} [extra] */
async function measureMemory(extra = {}) {
  // two full collections with a turn of the event loop between them, so that finalizers and weak callbacks ran
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  process.stdout.write(`MEM ${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, gc: !!globalThis.gc, young: youngGenerationBytes(), heapTotal: m.heapTotal, ...extra })}\n`);
}

/**
 * fail prints FAILED <reason> (the orchestrator's "failed (reason)" row) and exits.
 * @param {unknown} reason
 */
export function fail(reason) {
  const text = reason instanceof Error ? reason.message : String(reason);
  process.stdout.write(`FAILED ${text.replace(/\s+/g, ' ').slice(0, 200)}\n`);
  process.exit(1);
}

process.on('uncaughtException', (err) => fail(`uncaught: ${err.message}`));
process.on('unhandledRejection', (err) => fail(`unhandled rejection: ${err instanceof Error ? err.message : err}`));
