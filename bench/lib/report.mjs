// Turns the rounds of each scenario into rows (median, min–max, ratios vs ws and vs the bare net baseline) and
// formats them as one text table for the terminal and one Markdown table for bench/results/latest.md.

/** median of a list of numbers (null when empty); `null` entries (an incomplete broadcast) sort last. */
export function median(values) {
  if (values.length === 0) return null;
  const v = values.map((x) => (x === null || x === undefined ? Infinity : x)).sort((a, b) => a - b);
  const mid = v.length >> 1;
  const m = v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return Number.isFinite(m) ? m : null;
}

const SERVER_NAMES = { hayate: 'hayate', 'hayate-hub': 'hayate hub (rooms)', ws: 'ws', net: 'net (baseline)', socketio: 'Socket.IO', uws: 'uWebSockets.js' };

/**
 * summarize makes the table rows of one scenario: one row per server and metric, or one "failed"/"skipped" row.
 * @param {import('./scenarios.mjs').Scenario} scenario
 * @param {Map<string, { results: any[], failures: string[] }>} runs
 * @param {Map<string, string>} skipped
 */
export function summarize(scenario, runs, skipped) {
  const rows = [];
  for (const [server, run] of runs) {
    const base = { scenario: scenario.id, server, name: SERVER_NAMES[server] ?? server };
    if (run.results.length === 0) {
      const reason = skipped.get(server) ?? run.failures[0] ?? 'no result';
      rows.push({ ...base, status: skipped.has(server) ? 'skipped' : 'failed', reason });
      continue;
    }
    const genCpu = median(run.results.map((r) => r.genCpu ?? null));
    const serverCpu = median(run.results.map((r) => r.serverCpu ?? null));
    for (const metric of scenario.metrics) {
      const values = run.results.map((r) => r[metric.key] ?? null);
      const finite = values.filter((v) => v !== null && Number.isFinite(v));
      rows.push({
        ...base,
        status: 'ok',
        metric,
        median: median(values),
        min: finite.length === values.length ? Math.min(...finite) : null,
        max: finite.length === values.length ? Math.max(...finite) : null,
        rounds: run.results.length,
        failures: run.failures,
        genCpu,
        serverCpu,
      });
    }
  }
  for (const row of rows) {
    if (row.status !== 'ok') continue;
    const ref = (server) => rows.find((r) => r.server === server && r.status === 'ok' && r.metric.key === row.metric.key);
    row.vsWs = ratio(row.median, ref('ws')?.median);
    row.vsNet = ratio(row.median, ref('net')?.median);
  }
  return rows;
}

function ratio(a, b) {
  if (a === null || b === null || b === undefined || b === 0) return null;
  return a / b;
}

function cells(row) {
  if (row.status !== 'ok') return [row.scenario, row.name, '', `${row.status} (${row.reason})`, '', '', '', '', ''];
  const m = row.metric;
  const spread = row.rounds > 1 ? (row.min === null ? 'incomplete rounds' : `${m.format(row.min)} – ${m.format(row.max)}`) : '';
  const x = (v) => (v === null || v === undefined ? '' : `${v.toFixed(2)}×`);
  const note = row.failures.length > 0 ? ` (${row.failures.length} round failed: ${row.failures[0]})` : '';
  return [
    row.scenario,
    row.name,
    `${m.label}${m.better === 'lower' ? ' ↓' : ' ↑'}`,
    m.format(row.median) + note,
    spread,
    x(row.vsWs),
    x(row.vsNet),
    share(row.genCpu),
    share(row.serverCpu),
  ];
}

const share = (v) => (v === null ? '' : `${Math.round(v * 100)}%`);

const HEADER = ['scenario', 'server', 'metric', 'median', 'min – max', 'vs ws', 'vs net', 'gen CPU', 'server CPU'];

/** formatText lays the rows out as an aligned plain-text table. */
export function formatText(rows) {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, c) => Math.max(...table.map((r) => r[c].length)));
  return table.map((r) => r.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

/** formatMarkdown renders the rows as a Markdown table with the date, machine and command that produced it. */
export function formatMarkdown(rows, info) {
  const lines = [
    `Measured ${info.date} on ${info.machine}; servers pinned to core 0 and the load generator to core 1` +
      `${info.pinned ? '' : ' (NOT pinned: taskset missing)'}; \`${info.command}\` (${info.elapsed} s). ` +
      'Medians over the rounds; ↑ higher is better, ↓ lower is better; ratios are medians divided by ws’s and by ' +
      'the bare `net` server’s; gen CPU is the load generator’s CPU time over wall time (near 100% would mean it ' +
      'is the bottleneck), server CPU the server’s (near 100%: the server is the bottleneck, as it should be).',
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i >= 3 ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}
