// The benchmark's own correctness: the load generator's frame scanner and frame builder, the bare `net` baseline
// server, and each load script end to end against real servers (ws, Socket.IO, the net baseline) at toy sizes.
// A benchmark that miscounts or a baseline that drops bytes would make every number in docs/benchmarks.md wrong.
// No timing assertions: only counts and bytes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { dirname, join } from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import WebSocket, { WebSocketServer } from 'ws';
import {
  MASK, buildFrame, deflateMessage, jsonLikeText, newScanState, openConnections, scanFrames,
} from '../../bench/load/ws-client.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** serverFrame builds an unmasked frame as a server sends it. */
function serverFrame(payloadLength, { opcode = 1, fin = true, rsv1 = false } = {}) {
  const extra = payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + extra + payloadLength, 0x61);
  frame[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (extra === 0) frame[1] = payloadLength;
  else if (extra === 2) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadLength, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(payloadLength, 6);
  }
  return frame;
}

const stream = Buffer.concat([
  serverFrame(5),
  serverFrame(1), // an Engine.IO ping: tiny
  serverFrame(300, { opcode: 2 }),
  serverFrame(0, { opcode: 9 }), // ping
  serverFrame(10, { fin: false, rsv1: true }), // a compressed message in two fragments
  serverFrame(3, { opcode: 0 }),
  serverFrame(65536, { opcode: 2 }),
  serverFrame(2, { opcode: 8 }), // close
]);

function scanAll(chunks) {
  const st = newScanState();
  for (const c of chunks) scanFrames(st, c);
  return st;
}

test('scanFrames counts messages, tiny frames, RSV1 and control frames for every split of the stream', () => {
  const whole = scanAll([stream]);
  assert.deepEqual(
    { messages: whole.messages, tiny: whole.tiny, rsv1: whole.rsv1, control: whole.control, closed: whole.closed },
    { messages: 4, tiny: 1, rsv1: 1, control: 2, closed: true },
  );
  for (let cut = 1; cut < stream.length; cut += cut < 400 ? 1 : 997) {
    const st = scanAll([stream.subarray(0, cut), stream.subarray(cut)]);
    assert.equal(st.messages, 4, `split at ${cut}`);
    assert.equal(st.tiny, 1, `split at ${cut}`);
    assert.equal(st.rsv1, 1, `split at ${cut}`);
  }
});

test('scanFrames honours start and end inside a larger buffer', () => {
  const padded = Buffer.concat([Buffer.alloc(7, 0xff), stream, Buffer.alloc(5, 0xff)]);
  const st = newScanState();
  scanFrames(st, padded, 7, 7 + 100);
  scanFrames(st, padded, 7 + 100, 7 + stream.length);
  assert.equal(st.messages, 4);
  assert.equal(st.skip, 0);
});

test('scanFrames counts the same when fed one byte at a time', () => {
  const head = stream.subarray(0, 400);
  const bytes = [];
  for (let i = 0; i < head.length; i++) bytes.push(head.subarray(i, i + 1));
  const st = scanAll(bytes);
  const expected = scanAll([head]);
  assert.equal(st.messages, expected.messages);
  assert.equal(st.control, expected.control);
  assert.equal(st.skip, expected.skip);
});

test('buildFrame masks with the fixed key and encodes 7-, 16- and 64-bit lengths', () => {
  for (const [len, headerLen] of [[5, 6], [126, 8], [65536, 14]]) {
    const payload = Buffer.alloc(len, 0x42);
    const frame = buildFrame(payload, { opcode: 2 });
    assert.equal(frame.length, headerLen + len);
    assert.equal(frame[0], 0x82);
    assert.equal(frame[1] & 0x80, 0x80);
    assert.deepEqual(frame.subarray(headerLen - 4, headerLen), MASK);
    const unmasked = Buffer.from(frame.subarray(headerLen));
    for (let i = 0; i < unmasked.length; i++) unmasked[i] ^= MASK[i & 3];
    assert.deepEqual(unmasked, payload);
  }
});

test('deflateMessage strips the sync-flush tail and inflates back to the message', () => {
  const text = jsonLikeText(1000);
  assert.equal(text.length, 1000);
  JSON.parse(text.toString());
  const compressed = deflateMessage(text);
  assert.ok(compressed.length < text.length);
  const inflated = zlib.inflateRawSync(Buffer.concat([compressed, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  assert.deepEqual(inflated, text);
});

test('a real ws server with permessage-deflate receives the generator\'s compressed frames intact', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close();
  });
  const text = jsonLikeText(1000);
  const received = new Promise((resolve) => {
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => {
      ws.send(data, { binary: isBinary });
      resolve({ data, isBinary });
    }));
  });
  const st = newScanState();
  let gotEcho;
  const echoed = new Promise((resolve) => { gotEcho = resolve; });
  const sockets = await openConnections({
    port: server.address().port,
    count: 1,
    deflate: true,
    onOpen() {
      return (buf, start, end) => {
        scanFrames(st, buf, start, end);
        if (st.messages > 0) gotEcho();
      };
    },
  });
  t.after(() => sockets[0].destroy());
  sockets[0].write(buildFrame(deflateMessage(text), { rsv1: true }));
  const { data, isBinary } = await received;
  assert.equal(isBinary, false);
  assert.deepEqual(data, text);
  await echoed;
  assert.equal(st.rsv1, 1, 'the echo came back compressed (RSV1)');
});

/** startServer runs one of bench/servers/*.mjs and resolves with its port once it printed READY. */
async function startServer(t, name, env) {
  const child = spawn(process.execPath, [join(root, 'bench', 'servers', `${name}.mjs`)], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => {
    child.stdin.end();
    child.kill();
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  for await (const chunk of child.stdout) {
    out += chunk;
    const m = /^READY (\d+)$/m.exec(out);
    if (m) return { port: Number(m[1]), child };
    if (/^(FAILED|SKIP) /m.test(out)) throw new Error(out);
  }
  throw new Error(`server ${name} exited: ${out}`);
}

/** runLoad runs one of bench/load/*.mjs and resolves with its RESULT. */
async function runLoad(name, options) {
  const child = spawn(process.execPath, [join(root, 'bench', 'load', name), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (c) => {
    out += c;
    if (out.includes('HOLD')) child.stdin.end('release\n');
  });
  child.stderr.on('data', (c) => { err += c; });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, err);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no RESULT in: ${out} ${err}`);
  return JSON.parse(line.slice(7));
}

function wsClient(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  return once(ws, 'open').then(() => ws);
}

test('the net baseline echoes text and binary messages byte for byte, a 70,000-byte one split across reads', async (t) => {
  const { port } = await startServer(t, 'net', { BENCH_MODE: 'echo' });
  const ws = await wsClient(port);
  t.after(() => ws.terminate());
  const messages = [Buffer.from('hello'), Buffer.alloc(300, 7), Buffer.from(Array.from({ length: 70000 }, (_, i) => i % 251))];
  for (const [i, m] of messages.entries()) {
    const binary = i > 0;
    ws.send(m, { binary });
    const [data, isBinary] = await once(ws, 'message');
    assert.equal(isBinary, binary);
    assert.deepEqual(data, m);
  }
});

test('the net baseline echoes a frame that arrives a few bytes at a time, headers split across reads', async (t) => {
  const { port } = await startServer(t, 'net', { BENCH_MODE: 'echo' });
  let received = Buffer.alloc(0);
  const sockets = await openConnections({
    port,
    count: 1,
    onOpen: () => (buf, start, end) => { received = Buffer.concat([received, buf.subarray(start, end)]); },
  });
  const socket = sockets[0];
  t.after(() => socket.destroy());
  const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => 32 + (i % 90)));
  const frame = buildFrame(payload);
  for (let i = 0; i < frame.length; i += 3) {
    socket.write(frame.subarray(i, i + 3));
    await new Promise((r) => setTimeout(r, 1));
  }
  while (received.length < 4 + payload.length) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual([...received.subarray(0, 4)], [0x81, 126, 0x01, 0x2c]);
  assert.deepEqual(received.subarray(4), payload);
});

test('the net baseline broadcasts one client\'s message to every client', async (t) => {
  const { port } = await startServer(t, 'net', { BENCH_MODE: 'broadcast' });
  const a = await wsClient(port);
  const b = await wsClient(port);
  t.after(() => {
    a.terminate();
    b.terminate();
  });
  const got = Promise.all([once(a, 'message'), once(b, 'message')]);
  a.send('to everyone');
  for (const [data] of await got) assert.equal(String(data), 'to everyone');
});

test('echo.mjs counts echoes from the net baseline and reports no server closes', async (t) => {
  const { port } = await startServer(t, 'net', { BENCH_MODE: 'echo' });
  const r = await runLoad('echo.mjs', { port, connections: 4, inflight: 4, size: 32, warmupMs: 100, durationMs: 300 });
  assert.ok(r.messages > 0);
  assert.equal(r.closedByServer, 0);
  assert.ok(r.genCpu > 0);
  // found through /proc from the port; a busy echo server uses a good part of a core (10 ms clock ticks)
  assert.ok(r.serverCpu > 0.05 && r.serverCpu < 1.2, `server CPU ${r.serverCpu}`);
});

test('echo.mjs with deflate gets compressed echoes from ws and holds its connections for the memory reading', async (t) => {
  const { port } = await startServer(t, 'ws', { BENCH_MODE: 'echo', BENCH_DEFLATE: '1' });
  const r = await runLoad('echo.mjs', {
    port, connections: 2, inflight: 2, size: 1000, json: true, deflate: true, warmupMs: 100, durationMs: 300, hold: true,
  });
  assert.ok(r.messages > 0);
  assert.equal(r.compressedShare, 1);
});

test('idle.mjs opens every connection it was asked for', async (t) => {
  const { port } = await startServer(t, 'ws', { BENCH_MODE: 'idle' });
  const r = await runLoad('idle.mjs', { port, connections: 50, concurrency: 10 });
  assert.equal(r.connections, 50);
  assert.equal(r.closedByServer, 0);
});

test('settle measures memory once V8 has shrunk the young generation a burst of connections grew', async (t) => {
  const child = spawn(process.execPath, ['--expose-gc', join(root, 'bench', 'servers', 'net.mjs')], {
    env: { ...process.env, BENCH_MODE: 'idle' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => child.kill());
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (prefix) => {
    for (let r = await lines.next(); !r.done; r = await lines.next()) if (r.value.startsWith(prefix)) return r.value.slice(prefix.length);
    throw new Error('the server exited');
  };
  const port = Number(await next('READY '));
  const memory = async (command) => {
    child.stdin.write(`${command}\n`);
    return JSON.parse(await next('MEM '));
  };
  const before = await memory('mem');
  const load = spawn(process.execPath, [join(root, 'bench', 'load', 'idle.mjs'), JSON.stringify({ port, connections: 3000, concurrency: 100 })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => load.kill());
  for await (const line of readline.createInterface({ input: load.stdout })) if (line === 'HOLD') break;
  const connected = await memory('mem');
  assert.ok(connected.young > before.young, `the burst grew the young generation (${before.young} -> ${connected.young})`);
  const settled = await memory('settle');
  assert.equal(settled.shrunk, true);
  assert.ok(settled.young < connected.young, `${connected.young} -> ${settled.young}`);
  assert.ok(settled.settledMs < 30000, `${settled.settledMs} ms`);
  assert.ok(settled.rss < connected.rss);
});

for (const [server, protocol] of [['ws', 'raw'], ['net', 'raw'], ['socketio', 'socketio']]) {
  test(`broadcast.mjs sees every broadcast reach every receiver through ${server}`, async (t) => {
    const { port } = await startServer(t, server, { BENCH_MODE: 'broadcast' });
    const r = await runLoad('broadcast.mjs', { port, receivers: 20, rate: 20, warmup: 2, count: 5, size: 64, drainMs: 5000, protocol });
    assert.equal(r.incomplete, 0);
    assert.equal(r.broadcasts, 5);
    assert.notEqual(r.p99ms, null);
    assert.ok(r.deliveredPerSec > 0);
  });
}
