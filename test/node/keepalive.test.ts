// The heartbeat: one round pings every open connection; a connection that sent nothing since the previous round is
// terminated. Unit tests on fakes, then real sockets through the server's `heartbeat.runRound()`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Heartbeat, type Connection, type HeartbeatTarget } from '../../src/node/index.js';
import { openWs, rawWebSocket, startServer, parseServerFrames } from './server-fixtures.js';

class FakeTarget implements HeartbeatTarget {
  readyState: 0 | 1 | 2 | 3 = 1;
  pings = 0;
  terminated = false;
  answers = true;
  #alive = true;
  ping(): void {
    this.pings++;
    if (this.answers) this.#alive = true;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  takeAlive(): boolean {
    const a = this.#alive;
    this.#alive = false;
    return a;
  }
}

test('a target that never answers is pinged in round 1 and terminated in round 2', () => {
  const hb = new Heartbeat({ interval: 0 });
  const silent = new FakeTarget();
  silent.answers = false;
  const lively = new FakeTarget();
  hb.add(silent);
  hb.add(lively);
  assert.equal(hb.runRound(), 0);
  assert.equal(silent.pings, 1);
  assert.equal(silent.terminated, false);
  assert.equal(hb.runRound(), 1);
  assert.equal(silent.terminated, true);
  assert.equal(lively.terminated, false);
  assert.equal(lively.pings, 2);
  assert.equal(hb.size, 1);
  assert.equal(hb.terminated, 1);
});

test('targets that are closing are skipped, closed ones are dropped', () => {
  const hb = new Heartbeat({ interval: 0 });
  const closing = new FakeTarget();
  closing.readyState = 2;
  const closed = new FakeTarget();
  closed.readyState = 3;
  hb.add(closing);
  hb.add(closed);
  hb.runRound();
  hb.runRound();
  assert.equal(closing.pings + closed.pings, 0);
  assert.equal(closing.terminated || closed.terminated, false);
  assert.equal(hb.size, 1);
});

test('interval 0 never arms a timer; a positive interval arms one unref\'d timer and stop() disarms it', () => {
  const off = new Heartbeat({ interval: 0 });
  off.start();
  assert.equal(off.running, false);
  const on = new Heartbeat({ interval: 60_000 });
  on.start();
  assert.equal(on.running, true);
  on.stop();
  assert.equal(on.running, false);
  assert.throws(() => new Heartbeat({ interval: -1 }), RangeError);
});

test('the interval runs rounds by itself', async () => {
  const hb = new Heartbeat({ interval: 20 });
  const target = new FakeTarget();
  hb.add(target);
  hb.start();
  while (hb.rounds < 2) await new Promise((r) => setTimeout(r, 10));
  hb.stop();
  assert.ok(target.pings >= 2);
});

test('a raw client that never answers pings is terminated after two rounds; a ws client survives', async (t) => {
  const { wss, port, url } = await startServer(t);
  const conns: Connection[] = [];
  wss.on('connection', (c: Connection) => conns.push(c));
  const ws = await openWs(t, url);
  const raw = await rawWebSocket(t, port);
  while (conns.length < 2) await new Promise((r) => setImmediate(r));
  const wsPong = once(conns[0], 'pong');
  const rawClosed = new Promise<number>((resolve) => conns[1].once('close', resolve));

  assert.equal(wss.heartbeat.runRound(), 0);
  await wsPong;
  const frames = parseServerFrames(await raw.waitFor(2));
  assert.equal(frames[0].opcode, 0x9, 'the raw client got a ping');

  assert.equal(wss.heartbeat.runRound(), 1);
  assert.equal(await rawClosed, 1006);
  await raw.ended;
  assert.equal(conns[0].readyState, 1, 'the ws client that answered is still open');
  assert.equal(ws.readyState, 1);
});

test('one heartbeat timer serves every connection of a server: no timer is armed per connection', async (t) => {
  const INTERVAL = 987_654; // a period nothing else uses, so the timers armed with it are the heartbeat's
  const armed: string[] = [];
  const realSetInterval = globalThis.setInterval;
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setInterval = ((fn: () => void, ms?: number, ...args: unknown[]) => {
    if (ms === INTERVAL) armed.push('setInterval');
    return realSetInterval(fn, ms, ...args);
  }) as typeof setInterval;
  globalThis.setTimeout = ((fn: () => void, ms?: number, ...args: unknown[]) => {
    if (ms === INTERVAL) armed.push('setTimeout');
    return realSetTimeout(fn, ms, ...args);
  }) as typeof setTimeout;
  t.after(() => {
    globalThis.setInterval = realSetInterval;
    globalThis.setTimeout = realSetTimeout;
  });
  const { wss, url } = await startServer(t, { heartbeatInterval: INTERVAL });
  const clients = await Promise.all(Array.from({ length: 20 }, () => openWs(t, url)));
  while (wss.clients.size < clients.length) await new Promise((r) => realSetTimeout(r, 5));
  const pinged = Promise.all(clients.map((ws) => once(ws, 'ping')));
  // Every connection has sent its handshake bytes, so all are alive: one round pings all of them.
  assert.equal(wss.heartbeat.runRound(), 0);
  await pinged;
  assert.deepEqual(armed, ['setInterval']);
  assert.equal(wss.heartbeat.running, true);
});
