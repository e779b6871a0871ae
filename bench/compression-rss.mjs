#!/usr/bin/env node
// Server RSS per compressing connection, end to end (issue 3: "Measure server RSS and report it"): an echo server
// (hayate from src/ through tsx, or ws) in its own process, N ws clients with permessage-deflate in another; every
// client sends one 1,000-byte JSON-like message and waits for its echo, then the server reports its RSS after two
// forced GCs. Prints (RSS with N connections - RSS before they connected) / N for each server configuration.
//
//   node bench/compression-rss.mjs [--connections 1000] [--only <substring of a configuration name>]
//
// Indicative (shared machine); `npm run bench` has the end-to-end throughput scenarios.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? fallback : argv[i + 1];
};

const CONFIGS = {
  'hayate no context takeover': { impl: 'hayate', deflate: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  'hayate context takeover (ws defaults)': { impl: 'hayate', deflate: {} },
  'ws no context takeover': { impl: 'ws', deflate: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  'ws context takeover (defaults)': { impl: 'ws', deflate: {} },
  'hayate without compression': { impl: 'hayate', deflate: false },
};

const rss = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().rss;
};

async function server(name) {
  const { impl, deflate } = CONFIGS[name];
  const perMessageDeflate = deflate === false ? false : { threshold: 0, ...deflate };
  let wss;
  if (impl === 'hayate') {
    const { WebSocketServer } = await import('../src/node/index.ts');
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, heartbeatInterval: 0 });
  } else {
    const { WebSocketServer } = await import('ws');
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  }
  await once(wss, 'listening');
  wss.on('connection', (conn) => conn.on('message', (data, isBinary) => conn.send(data, { binary: isBinary })));
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log(`READY ${wss.address().port} ${rss()}`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'RSS') {
      await new Promise((resolve) => setTimeout(resolve, 200));
      console.log(`RSS ${rss()}`);
    }
  }
}

async function clients(port, count) {
  const { default: WebSocket } = await import('ws');
  const message = JSON.stringify({ type: 'message', room: 'lobby', text: 'hello world, this is a chat message '.repeat(30) }).slice(0, 1000);
  const sockets = [];
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: { threshold: 0 } });
        sockets.push(ws);
        await once(ws, 'open');
        ws.send(message);
        await once(ws, 'message');
      }),
    );
  }
  console.log('CONNECTED');
  await new Promise(() => {}); // hold the connections until killed
}

async function measure(name, count) {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--server', name], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ready = (await lines.next()).value.split(' ');
  const port = Number(ready[1]);
  const idle = Number(ready[2]);
  const load = spawn(process.execPath, [self, '--clients', String(port), '--connections', String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const loadLines = createInterface({ input: load.stdout })[Symbol.asyncIterator]();
  await loadLines.next(); // CONNECTED
  child.stdin.write('RSS\n');
  const loaded = Number((await lines.next()).value.split(' ')[1]);
  load.kill();
  child.kill();
  return (loaded - idle) / count;
}

if (argv.includes('--server')) {
  await server(arg('server'));
} else if (argv.includes('--clients')) {
  await clients(Number(arg('clients')), Number(arg('connections', 1000)));
} else {
  const count = Number(arg('connections', 1000));
  console.log(`| server (${count} connections, one 1,000-byte message echoed each) | RSS per connection |`);
  console.log('|---|---:|');
  const only = arg('only', '');
  for (const name of Object.keys(CONFIGS).filter((n) => n.includes(only))) {
    const perConnection = await measure(name, count);
    console.log(`| ${name} | ${(perConnection / 1024).toFixed(1)} KiB |`);
  }
}
