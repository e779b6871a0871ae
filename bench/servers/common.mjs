// What every server under test shares: its configuration from the environment, the READY/FAILED lines the
// orchestrator (run.mjs) waits for, and the `mem` command on stdin that forces a GC and prints the process's RSS.
//
// Environment: BENCH_MODE = echo | broadcast | idle (idle servers run the echo logic; nobody sends), BENCH_DEFLATE = 1
// to enable permessage-deflate (threshold 0: every message compressed), BENCH_PORT (default 0: any free port).

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
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdout.write(`READY ${actualPort}\n`);
}

async function measureMemory() {
  // two full collections with a turn of the event loop between them, so that finalizers and weak callbacks ran
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  process.stdout.write(`MEM ${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, gc: !!globalThis.gc })}\n`);
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
