// The benchmark table: medians, spreads, ratios vs ws and vs the net baseline, and rows for failed or skipped servers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMarkdown, formatText, median, summarize } from '../../bench/lib/report.mjs';
import { SCENARIOS } from '../../bench/lib/scenarios.mjs';

const echo = SCENARIOS.find((s) => s.id === 'echo-small');
const broadcast = SCENARIOS.find((s) => s.id === 'broadcast');

test('median takes the middle round, averages the two middle ones, and treats null (incomplete) as slowest', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([1, null, 2]), 2);
  assert.equal(median([null, null, 1]), null);
  assert.equal(median([]), null);
});

test('summarize gives medians, min–max and ratios against ws and net', () => {
  const runs = new Map([
    ['hayate', { results: [{ rate: 300, genCpu: 0.3, serverCpu: 0.99 }, { rate: 270, genCpu: 0.3, serverCpu: 0.97 }, { rate: 330, genCpu: 0.3, serverCpu: 1 }], failures: [] }],
    ['ws', { results: [{ rate: 100, genCpu: 0.1 }, { rate: 90, genCpu: 0.1 }, { rate: 110, genCpu: 0.1 }], failures: [] }],
    ['net', { results: [{ rate: 600, genCpu: 0.6 }], failures: [] }],
  ]);
  const rows = summarize(echo, runs, new Map());
  const hayate = rows.find((r) => r.server === 'hayate');
  assert.equal(hayate.median, 300);
  assert.equal(hayate.min, 270);
  assert.equal(hayate.max, 330);
  assert.equal(hayate.vsWs, 3);
  assert.equal(hayate.vsNet, 0.5);
  assert.match(formatText(rows), /hayate\s+messages\/s ↑\s+300\s+270 – 330\s+3\.00×\s+0\.50×\s+30%\s+99%/);
  assert.match(formatText(rows), /ws\s+messages\/s ↑\s+100\s+90 – 110\s+1\.00×\s+0\.17×\s+10%$/m, 'no server CPU column when none was measured');
});

test('a server that failed or was skipped gets one row with the reason, and no ratio uses it', () => {
  const runs = new Map([
    ['hayate', { results: [], failures: ['cannot load dist/node/index.js'] }],
    ['ws', { results: [{ rate: 100, genCpu: 0.1 }], failures: [] }],
    ['uws', { results: [], failures: [] }],
  ]);
  const rows = summarize(echo, runs, new Map([['uws', 'not installed']]));
  assert.deepEqual(rows.map((r) => [r.server, r.status]), [['hayate', 'failed'], ['ws', 'ok'], ['uws', 'skipped']]);
  const md = formatMarkdown(rows, { date: 'd', machine: 'm', command: 'npm run bench', pinned: true, elapsed: 1 });
  assert.match(md, /\| echo-small \| hayate \| {2}\| failed \(cannot load dist\/node\/index\.js\) \|/);
  assert.match(md, /skipped \(not installed\)/);
  assert.equal(rows.find((r) => r.server === 'ws').vsNet, null);
});

test('a broadcast round that never completed shows as incomplete, not as a number', () => {
  const runs = new Map([
    ['ws', { results: [{ p50ms: 2000, p99ms: null, deliveredPerSec: 10, genCpu: 0.1 }], failures: [] }],
  ]);
  const rows = summarize(broadcast, runs, new Map());
  const p99 = rows.find((r) => r.metric.key === 'p99ms');
  assert.equal(p99.median, null);
  assert.match(formatText(rows), /last receipt p99 ↓\s+incomplete/);
  assert.match(formatText(rows), /last receipt p50 ↓\s+2\.000 s/);
});
