import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/sdk/backoff.js';
import { ReconnectingSocket, type ConnectionState, type ReconnectingSocketOptions } from '../../src/sdk/reconnecting-socket.js';
import { FakeClock, FakeEnvironment, FakeWebSocket } from './fakes.js';

beforeEach(() => FakeWebSocket.reset());

function make(overrides: Partial<ReconnectingSocketOptions> = {}) {
  const clock = new FakeClock();
  const states: ConnectionState[] = [];
  const socket = new ReconnectingSocket({
    url: 'ws://test/ws',
    WebSocket: FakeWebSocket,
    clock,
    environment: null,
    backoff: new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, resetAfterMs: 5000, random: () => 0.5 }),
    heartbeat: { intervalMs: 2000, timeoutMs: 1000, probe: () => 'probe' },
    ...overrides,
  });
  socket.on('state', (s) => states.push(s));
  return { socket, clock, states, kinds: () => states.map((s) => s.kind) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('goes connecting → open and passes text messages through', async () => {
  const { socket, kinds } = make();
  const got: string[] = [];
  socket.on('message', (m) => got.push(m));
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.receive('hello');
  assert.deepEqual(kinds(), ['connecting', 'open']);
  assert.deepEqual(got, ['hello']);
  assert.equal(socket.send('x'), true);
  assert.deepEqual(FakeWebSocket.last.sent, ['x']);
});

test('after an unclean close it waits the backoff delay, then reconnects with the next attempt number', async () => {
  const { socket, clock, states } = make();
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(1006);
  const r = states.at(-1);
  assert.equal(r?.kind, 'reconnecting');
  if (r?.kind !== 'reconnecting') return;
  assert.equal(r.attempt, 2);
  assert.equal(r.delayMs, 500); // random 0.5 × first window 1000
  assert.equal(r.retryAt, clock.now() + 500);
  assert.equal(r.lastClose?.code, 1006);
  assert.equal(socket.send('lost'), false);
  clock.advance(499);
  assert.equal(FakeWebSocket.instances.length, 1);
  clock.advance(1);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 2);
  assert.deepEqual(states.at(-1), { kind: 'connecting', attempt: 2 });
  FakeWebSocket.last.serverClose(1006); // failed connect: the window doubles
  const r2 = states.at(-1);
  assert.equal(r2?.kind === 'reconnecting' ? r2.delayMs : -1, 1000);
});

test('disconnect() closes with 1000 and never reconnects', async () => {
  const { socket, clock, states } = make();
  socket.connect();
  await tick();
  const ws = FakeWebSocket.last;
  ws.open();
  socket.disconnect();
  assert.deepEqual(ws.closedWith, { code: 1000, reason: '' });
  ws.serverClose(1000);
  clock.advance(600_000);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1);
  const last = states.at(-1);
  assert.equal(last?.kind, 'closed');
  assert.match(last?.kind === 'closed' ? last.reason : '', /disconnect\(\)/);
  assert.equal(clock.pending, 0);
  assert.equal(ws.listenerCount(), 0);
});

test('a 1008 policy close stops for good and reports why', async () => {
  const { socket, clock, states } = make();
  const closes: string[] = [];
  socket.on('close', (c) => closes.push(`${c.code}:${c.action}`));
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(1008, 'abuse');
  clock.advance(600_000);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1);
  assert.deepEqual(closes, ['1008:stop']);
  const last = states.at(-1);
  assert.equal(last?.kind, 'closed');
  if (last?.kind === 'closed') {
    assert.equal(last.code, 1008);
    assert.match(last.reason, /policy/);
  }
});

test('4001 with a URL function fetches a new URL (token) and reconnects; with a fixed URL it stops', async () => {
  let calls = 0;
  const { socket, clock } = make({ url: () => `ws://test/ws?token=t${++calls}` });
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(4001, 'expired');
  clock.advance(10_000);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 2);
  assert.equal(FakeWebSocket.last.url, 'ws://test/ws?token=t2');

  const fixed = make();
  fixed.socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(4001, 'expired');
  const last = fixed.states.at(-1);
  assert.equal(last?.kind, 'closed');
  assert.match(last?.kind === 'closed' ? last.reason : '', /no token source/);
});

test('a URL function may also choose the subprotocols of each attempt', async () => {
  const { socket } = make({ url: () => ({ url: 'ws://test/ws', protocols: ['hayate.v1', 'token.abc'] }) });
  socket.connect();
  await tick();
  assert.deepEqual(FakeWebSocket.last.protocols, ['hayate.v1', 'token.abc']);
});

test('dead link: a quiet link gets a probe, and no answer within the timeout means reconnect', async () => {
  const { socket, clock, states } = make();
  socket.connect();
  await tick();
  const ws = FakeWebSocket.last;
  ws.open();
  clock.advance(1999);
  assert.deepEqual(ws.sent, []);
  clock.advance(1);
  assert.deepEqual(ws.sent, ['probe']);
  clock.advance(999);
  assert.equal(states.at(-1)?.kind, 'open');
  clock.advance(1);
  assert.equal(states.at(-1)?.kind, 'reconnecting');
  assert.equal(ws.closedWith?.code, 4000);
  assert.equal(ws.listenerCount(), 0, 'the abandoned socket is detached');
  ws.serverClose(1006); // a late close of the abandoned socket changes nothing
  assert.equal(states.at(-1)?.kind, 'reconnecting');
});

test('dead link: any message after the probe keeps the link', async () => {
  const { socket, clock, states } = make();
  socket.connect();
  await tick();
  const ws = FakeWebSocket.last;
  ws.open();
  clock.advance(2000);
  ws.receive('pong');
  for (let i = 0; i < 10; i++) {
    clock.advance(1500);
    ws.receive('traffic');
  }
  assert.equal(states.at(-1)?.kind, 'open');
  assert.deepEqual(ws.sent, ['probe']);
});

test('setHeartbeatInterval moves the dead-link bound to the server announced interval', async () => {
  const { socket, clock } = make();
  socket.connect();
  await tick();
  const ws = FakeWebSocket.last;
  ws.open();
  socket.setHeartbeatInterval(10_000, 3000);
  clock.advance(9999);
  assert.deepEqual(ws.sent, []);
  clock.advance(1);
  assert.deepEqual(ws.sent, ['probe']);
});

test('a handshake that never completes is abandoned after connectTimeoutMs', async () => {
  const { socket, clock, states } = make({ connectTimeoutMs: 3000 });
  socket.connect();
  await tick();
  clock.advance(3000);
  assert.equal(states.at(-1)?.kind, 'reconnecting');
  assert.equal(FakeWebSocket.last.closedWith?.code, 4000);
});

test('the backoff schedule resets once a connection stayed open for resetAfterMs', async () => {
  const { socket, clock, states } = make();
  const delay = () => {
    const s = states.at(-1);
    return s?.kind === 'reconnecting' ? s.delayMs : -1;
  };
  socket.connect();
  await tick();
  FakeWebSocket.last.serverClose(1006);
  assert.equal(delay(), 500);
  clock.advance(500);
  await tick();
  FakeWebSocket.last.serverClose(1006);
  assert.equal(delay(), 1000);
  clock.advance(1000);
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(1006); // short-lived: the schedule keeps growing
  assert.equal(delay(), 2000);
  clock.advance(2000);
  await tick();
  FakeWebSocket.last.open();
  socket.setHeartbeatInterval(60_000);
  clock.advance(5000); // stable
  FakeWebSocket.last.serverClose(1006);
  assert.equal(delay(), 500);
});

test('stops with "cannot connect" after maxFailedAttempts attempts in a row never opened', async () => {
  const { socket, clock, states } = make({ maxFailedAttempts: 3 });
  socket.connect();
  for (let i = 0; i < 3; i++) {
    await tick();
    FakeWebSocket.last.serverClose(1006);
    clock.advance(10_000);
  }
  await tick();
  assert.equal(FakeWebSocket.instances.length, 3);
  const last = states.at(-1);
  assert.equal(last?.kind, 'closed');
  assert.match(last?.kind === 'closed' ? last.reason : '', /cannot connect/);
});

test('offline drops the link and waits without timers; online reconnects at once', async () => {
  const env = new FakeEnvironment();
  const { socket, clock, states } = make({ environment: env });
  socket.connect();
  await tick();
  const ws = FakeWebSocket.last;
  ws.open();
  env.fire('offline');
  assert.equal(states.at(-1)?.kind, 'offline');
  assert.equal(ws.listenerCount(), 0);
  assert.equal(clock.pending, 0);
  clock.advance(600_000);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1);
  env.fire('online');
  await tick();
  assert.equal(FakeWebSocket.instances.length, 2);
  assert.equal(states.at(-1)?.kind, 'connecting');
  socket.disconnect();
  assert.equal(env.count('online') + env.count('offline') + env.count('visibilitychange'), 0, 'listeners removed');
});

test('connect() while the browser is offline waits for online', async () => {
  const env = new FakeEnvironment();
  env.online = false;
  const { socket } = make({ environment: env });
  socket.connect();
  await tick();
  assert.equal(socket.state.kind, 'offline');
  assert.equal(FakeWebSocket.instances.length, 0);
  env.fire('online');
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1);
});

test('the page becoming visible skips the remaining backoff delay', async () => {
  const env = new FakeEnvironment();
  const { socket } = make({ environment: env });
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(1012);
  assert.equal(socket.state.kind, 'reconnecting');
  env.visible = false;
  env.fire('visibilitychange');
  assert.equal(socket.state.kind, 'reconnecting');
  env.visible = true;
  env.fire('visibilitychange');
  await tick();
  assert.equal(FakeWebSocket.instances.length, 2);
});

test('the page becoming visible probes an open link', async () => {
  const env = new FakeEnvironment();
  const { socket } = make({ environment: env });
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  env.fire('visibilitychange');
  assert.deepEqual(FakeWebSocket.last.sent, ['probe']);
});

test('a URL function that throws counts as a failed attempt and is retried', async () => {
  let n = 0;
  const { socket, clock, states } = make({
    url: () => {
      n += 1;
      if (n === 1) throw new Error('token service down');
      return 'ws://test/ws';
    },
  });
  const errors: string[] = [];
  socket.on('error', (e) => errors.push(e.message));
  socket.connect();
  await tick();
  assert.deepEqual(errors, ['token service down']);
  assert.equal(states.at(-1)?.kind, 'reconnecting');
  clock.advance(1000);
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1);
});

test('disconnect() while the URL function is still pending opens no socket', async () => {
  let release: (url: string) => void = () => {};
  const { socket, states } = make({ url: () => new Promise<string>((resolve) => (release = resolve)) });
  socket.connect();
  socket.disconnect();
  release('ws://test/ws');
  await tick();
  assert.equal(FakeWebSocket.instances.length, 0);
  assert.equal(states.at(-1)?.kind, 'closed');
});

test('a WebSocket constructor that throws (bad URL) stops with the reason instead of retrying', async () => {
  const { socket, clock, states } = make({ url: 'not a url', WebSocket: class {
    constructor() {
      throw new SyntaxError('invalid URL');
    }
  } as unknown as ReconnectingSocketOptions['WebSocket'] });
  socket.connect();
  await tick();
  clock.advance(60_000);
  const last = states.at(-1);
  assert.equal(last?.kind, 'closed');
  assert.match(last?.kind === 'closed' ? last.reason : '', /invalid URL/);
});

test('reconnectNow skips the remaining delay, and on an open link replaces it at once', async () => {
  const { socket, states } = make();
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  FakeWebSocket.last.serverClose(1006);
  assert.equal(socket.state.kind, 'reconnecting');
  socket.reconnectNow();
  await tick();
  assert.equal(FakeWebSocket.instances.length, 2);
  FakeWebSocket.last.open();
  const first = FakeWebSocket.last;
  socket.reconnectNow();
  await tick();
  assert.equal(FakeWebSocket.instances.length, 3);
  assert.equal(first.closedWith?.code, 4000);
  assert.equal(first.listenerCount(), 0);
  assert.deepEqual(states.at(-1), { kind: 'connecting', attempt: 3 });
});

test('checkLink probes now and drops a link that does not answer', async () => {
  const { socket, clock } = make();
  socket.connect();
  await tick();
  FakeWebSocket.last.open();
  socket.checkLink();
  assert.deepEqual(FakeWebSocket.last.sent, ['probe']);
  clock.advance(1000);
  assert.equal(socket.state.kind, 'reconnecting');
});
