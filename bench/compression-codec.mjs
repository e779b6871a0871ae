#!/usr/bin/env node
// Micro-benchmark behind docs/decisions/compression-codec.md: hayate's synchronous permessage-deflate codec
// (src/protocol/permessage-deflate.ts) against ws's asynchronous one (ws/lib/permessage-deflate.js, node:zlib streams
// behind a concurrency limit of 10), with no sockets: each "message" is compressed by one end and inflated by the
// other, round robin over many connections, as in an echo. Also measures RSS per connection once each connection has
// compressed and inflated one message (every variant in its own child process).
//
//   node --import tsx bench/compression-codec.mjs [--messages 20000] [--connections 100] [--memory-connections 2000]
//
// Indicative only (one shared machine); the end-to-end numbers are `npm run bench`'s compression scenarios.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// ws does not export its permessage-deflate module; load it by path from ws's own directory.
const require = createRequire(import.meta.url);
const WsPerMessageDeflate = require(join(dirname(require.resolve('ws')), 'lib', 'permessage-deflate.js'));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

/** 1,000 bytes of JSON-like chat text, varied per message like a real conversation. */
function message(i) {
  const words = ['hello', 'world', 'lobby', 'alice', 'bob', 'typing', 'presence', 'room', 'message', 'ack'];
  let text = '';
  let x = i * 2654435761;
  while (text.length < 900) {
    x = (x * 1103515245 + 12345) >>> 0;
    text += words[x % words.length] + ' ';
  }
  const json = JSON.stringify({ type: 'message', room: 'lobby', id: i, user: `user-${i % 977}`, text });
  return Buffer.from(json.slice(0, 1000).padEnd(1000, ' '));
}

const VARIANTS = {
  'hayate-sync-no-takeover': { impl: 'hayate', params: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  'hayate-sync-takeover': { impl: 'hayate', params: {} },
  'ws-async-no-takeover': { impl: 'ws', params: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  'ws-async-takeover': { impl: 'ws', params: {} },
};

async function makePairs(variant, count) {
  const { impl, params } = VARIANTS[variant];
  const pairs = [];
  if (impl === 'hayate') {
    const { negotiatePerMessageDeflate, acceptPerMessageDeflateResponse, perMessageDeflateOffer } = await import(
      '../src/protocol/deflate-params.ts'
    );
    for (let i = 0; i < count; i++) {
      const options = { ...params, threshold: 0 };
      const negotiated = negotiatePerMessageDeflate(perMessageDeflateOffer(options), options);
      const accepted = acceptPerMessageDeflateResponse(negotiated.response, options);
      pairs.push({ client: accepted.extension, server: negotiated.extension });
    }
    return pairs;
  }
  const offer = {};
  if (params.serverNoContextTakeover) offer.server_no_context_takeover = [true];
  if (params.clientNoContextTakeover) offer.client_no_context_takeover = [true];
  for (let i = 0; i < count; i++) {
    const server = new WsPerMessageDeflate({ ...params, threshold: 0, isServer: true });
    const client = new WsPerMessageDeflate({ ...params, threshold: 0 });
    const accepted = server.accept([{ ...offer, client_max_window_bits: [true] }]);
    const response = {};
    for (const [k, v] of Object.entries(accepted)) response[k] = [v];
    client.accept([response]);
    pairs.push({ client, server });
  }
  return pairs;
}

function hayateExchange(pair, data) {
  const compressed = pair.client.compress(data);
  const out = pair.server.decompress(compressed, true, 1 << 20);
  if (!(out instanceof Buffer) || out.length !== data.length) throw new Error('hayate round trip failed');
}

function wsExchange(pair, data) {
  return new Promise((resolve, reject) => {
    pair.client.compress(data, true, (error, compressed) => {
      if (error) return reject(error);
      pair.server.decompress(compressed, true, (error2, out) => {
        if (error2) return reject(error2);
        if (out.length !== data.length) return reject(new Error('ws round trip failed'));
        resolve();
      });
    });
  });
}

async function throughput(variant, messages, connections) {
  const pairs = await makePairs(variant, connections);
  const data = Array.from({ length: 256 }, (_, i) => message(i));
  const impl = VARIANTS[variant].impl;
  // Warm up, then measure.
  for (let round = 0; round < 2; round++) {
    const n = round === 0 ? Math.min(2000, messages) : messages;
    const start = process.hrtime.bigint();
    if (impl === 'hayate') {
      for (let i = 0; i < n; i++) hayateExchange(pairs[i % connections], data[i & 255]);
    } else {
      // Every connection sends its share in order; all connections at once, as sockets would.
      const perConnection = Math.ceil(n / connections);
      await Promise.all(
        pairs.map(async (pair, c) => {
          for (let i = 0; i < perConnection; i++) await wsExchange(pair, data[(c + i) & 255]);
        }),
      );
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (round === 1) return Math.round(n / seconds);
  }
  return 0;
}

async function memory(variant, connections) {
  globalThis.gc?.();
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const pairs = await makePairs(variant, connections);
  const data = message(1);
  const servers = pairs.map((p) => p.server);
  // Each connection receives and sends one message, so lazily created contexts exist; then the clients go away
  // (they stand for the remote ends) and we measure what the server side holds.
  for (const pair of pairs) {
    if (VARIANTS[variant].impl === 'hayate') {
      hayateExchange(pair, data);
      pair.client.decompress(pair.server.compress(data), true, 1 << 20);
      pair.client.release();
    } else {
      await wsExchange(pair, data);
      await wsExchange({ client: pair.server, server: pair.client }, data);
      pair.client.cleanup();
    }
  }
  pairs.length = 0;
  globalThis.gc?.();
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
  globalThis.gc?.();
  const after = process.memoryUsage().rss;
  if (servers.length !== connections) throw new Error('lost servers');
  return Math.round((after - before) / connections);
}

const self = fileURLToPath(import.meta.url);
const child = arg('child', null);
if (child !== null) {
  const [mode, variant] = child.split(':');
  const result =
    mode === 'throughput'
      ? await throughput(variant, Number(arg('messages', 20000)), Number(arg('connections', 100)))
      : await memory(variant, Number(arg('memory-connections', 2000)));
  console.log(JSON.stringify({ mode, variant, result }));
} else {
  const rows = [];
  for (const variant of Object.keys(VARIANTS)) {
    const row = { variant };
    for (const mode of ['throughput', 'memory']) {
      const run = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', self, '--child', `${mode}:${variant}`, ...process.argv.slice(2)],
        { encoding: 'utf8' },
      );
      if (run.status !== 0) throw new Error(`${variant} ${mode} failed: ${run.stderr}`);
      row[mode] = JSON.parse(run.stdout.trim().split('\n').pop()).result;
    }
    rows.push(row);
  }
  console.log('| codec | round trips/s (1,000-byte JSON, compress + inflate) | RSS per connection after one message each way |');
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.variant} | ${r.throughput.toLocaleString('en')} | ${(r.memory / 1024).toFixed(1)} KiB |`);
}
