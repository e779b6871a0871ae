// Two chat servers sharing one Redis (the Redis broker): users on different nodes share rooms, DMs, presence and
// history, as if there were one server, also after a node's Redis connections were killed and came back, and behind
// nginx configured as docs/scale-out.md shows (no sticky sessions).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requireRedis } from '../helpers/redis.js';
import { RedisBroker } from '../../src/realtime/brokers/redis.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createChatServer } from '../../src/cli/chat-server.js';
import { SECRET, connect, token } from './helpers.js';

interface Cluster {
  urls: string[];
  ports: number[];
  /** Kills node `i`'s Redis connections (CLIENT KILL ID) and resolves once its broker has reconnected. */
  killRedisConnections(i: number): Promise<void>;
}

async function cluster(t: TestContext): Promise<Cluster | null> {
  const url = await requireRedis(t);
  if (url === null) return null;
  const id = randomBytes(4).toString('hex');
  const prefix = `hayate-test:${id}:`;
  const urls: string[] = [];
  const ports: number[] = [];
  const reconnects = [0, 0];
  for (let i = 0; i < 2; i++) {
    const broker = await RedisBroker.connect({ url, prefix, clientName: `hayate-cluster-${id}-${i}`, onReconnected: () => reconnects[i]++ });
    const server = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0, broker });
    const { port } = await server.listen();
    t.after(async () => {
      await server.close();
      await broker.close();
    });
    urls.push(`ws://127.0.0.1:${port}/ws`);
    ports.push(port);
  }
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  t.after(async () => {
    await admin.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1", 0, `${prefix}*`);
    admin.disconnect();
  });
  const killRedisConnections = async (i: number): Promise<void> => {
    const before = reconnects[i];
    const lines = String(await admin.client('LIST')).split('\n').filter((line) => line.includes(` name=hayate-cluster-${id}-${i}`));
    assert.equal(lines.length, 2, 'a command and a subscriber connection per node');
    for (const line of lines) await admin.client('KILL', 'ID', String(/id=(\d+)/.exec(line)?.[1]));
    for (let n = 0; n < 500 && reconnects[i] === before; n++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(reconnects[i] > before, `node ${i} reconnected to Redis`);
  };
  return { urls, ports, killRedisConnections };
}

test('users on two nodes chat in one room, see each other present, and exchange DMs', async (t) => {
  const setup = await cluster(t);
  if (setup === null) return;
  const { urls } = setup;
  const alice = await connect(t, urls[0], { token: await token('alice', { name: 'Alice' }) });
  const bob = await connect(t, urls[1], { token: await token('bob', { name: 'Bob' }) });
  assert.equal(alice.ofType('welcome')[0].epoch, bob.ofType('welcome')[0].epoch, 'one epoch for the cluster');
  await alice.request({ type: 'join', room: 'lobby' }, 'j');
  await bob.request({ type: 'join', room: 'lobby' }, 'j');
  const members = bob.ofType('joined')[0].members as Array<{ user: { id: string } }>;
  assert.deepEqual(members.map((m) => m.user.id).sort(), ['alice', 'bob']);
  await alice.next('presence', (p) => (p.user as { id: string }).id === 'bob');
  await alice.request({ type: 'chat', room: 'lobby', text: 'across nodes' }, 'c1');
  assert.equal((await bob.next('chat')).text, 'across nodes');
  await bob.request({ type: 'dm', to: 'alice', text: 'psst' }, 'd1');
  const dm = await alice.next('dm');
  assert.deepEqual([dm.text, dm.room, (dm.from as { name: string }).name], ['psst', '@user:alice', 'Bob']);
  await bob.close();
  const left = await alice.next('presence', (p) => p.event === 'leave');
  assert.equal((left.user as { id: string }).id, 'bob');
});

test('a client resumes on the other node with since and gets what it missed', async (t) => {
  const setup = await cluster(t);
  if (setup === null) return;
  const { urls } = setup;
  const writer = await connect(t, urls[0], { token: await token('writer') });
  await writer.request({ type: 'join', room: 'r' }, 'j');
  for (let i = 1; i <= 5; i++) await writer.request({ type: 'chat', room: 'r', text: `m${i}` }, `c${i}`);
  const reader = await connect(t, urls[1], { token: await token('reader') });
  await reader.request({ type: 'join', room: 'r', since: 2, epoch: reader.ofType('welcome')[0].epoch }, 'j');
  assert.deepEqual(reader.ofType('chat').map((m) => m.text), ['m3', 'm4', 'm5']);
});

test('a message resent through the other node after a reconnect is delivered once', async (t) => {
  const setup = await cluster(t);
  if (setup === null) return;
  const { urls } = setup;
  const bob = await connect(t, urls[1], { token: await token('bob') });
  await bob.request({ type: 'join', room: 'r' }, 'j');
  const first = await connect(t, urls[0], { token: await token('alice') });
  await first.request({ type: 'join', room: 'r' }, 'j');
  assert.equal((await first.request({ type: 'chat', room: 'r', text: 'once' }, 'msg-1')).duplicate, undefined);
  await first.close();
  const again = await connect(t, urls[1], { token: await token('alice') });
  await again.request({ type: 'join', room: 'r' }, 'j');
  const ack = await again.request({ type: 'chat', room: 'r', text: 'once' }, 'msg-1');
  assert.deepEqual([ack.type, ack.offset, ack.duplicate], ['ack', 1, true]);
  await bob.request({ type: 'ping' }, 'sync');
  assert.equal(bob.ofType('chat').length, 1);
});

/** Alice on node 0 and Bob on node 1, both in room lobby. */
async function lobbyOnTwoNodes(t: TestContext, urls: string[]) {
  const alice = await connect(t, urls[0], { token: await token('alice') });
  const bob = await connect(t, urls[1], { token: await token('bob') });
  await alice.request({ type: 'join', room: 'lobby' }, 'j');
  await bob.request({ type: 'join', room: 'lobby' }, 'j');
  return { alice, bob };
}

test('after a node lost its Redis connections and reconnected, chat still crosses nodes both ways', async (t) => {
  const setup = await cluster(t);
  if (setup === null) return;
  const { urls } = setup;
  const { alice, bob } = await lobbyOnTwoNodes(t, urls);
  await setup.killRedisConnections(0);
  await bob.request({ type: 'chat', room: 'lobby', text: 'to the recovered node' }, 'c1');
  assert.equal((await alice.next('chat')).text, 'to the recovered node');
  await alice.request({ type: 'chat', room: 'lobby', text: 'from the recovered node' }, 'c2');
  const got = await bob.next('chat', (m) => m.text === 'from the recovered node');
  assert.equal(got.offset, 2, 'history offsets continue across the reconnect');
});

test('a member on a node whose Redis connections drop while another node publishes gets every message once, in order, staying connected', async (t) => {
  const setup = await cluster(t);
  if (setup === null) return;
  const { urls } = setup;
  const { alice, bob } = await lobbyOnTwoNodes(t, urls);
  const total = 30;
  const publishing = (async () => {
    for (let i = 1; i <= total; i++) {
      const ack = await alice.request({ type: 'chat', room: 'lobby', text: `m${i}` }, `c${i}`);
      assert.equal(ack.type, 'ack', `c${i} stored`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  await alice.until((messages) => messages.some((m) => m.type === 'ack' && m.id === 'c5'), 5000, 'the first acks');
  // Node 1's subscriber (and command) connection killed mid-stream: payloads published meanwhile never reach it.
  await setup.killRedisConnections(1);
  await publishing;
  await bob.until((messages) => messages.filter((m) => m.type === 'chat').length >= total, 10_000, `${total} chats at bob`);
  await bob.request({ type: 'ping' }, 'sync');
  assert.deepEqual(bob.ofType('chat').map((m) => m.offset), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(bob.ws.readyState, bob.ws.OPEN, 'bob never reconnected');
});

const NGINX = '/usr/sbin/nginx';

/** A free TCP port on 127.0.0.1 (nginx cannot listen on port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts nginx in front of `ports` with docs/scale-out.md's proxy settings; resolves to its ws:// URL. */
async function nginx(t: TestContext, ports: number[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hayate-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream hayate {
    least_conn;
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=3 fail_timeout=10s;`).join('\n')}
  }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location /ws {
      proxy_pass http://hayate;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 90s;
      proxy_send_timeout 90s;
      proxy_buffering off;
    }
  }
}
`);
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGQUIT');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return `ws://127.0.0.1:${port}/ws`;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nginx did not start (see ${dir}/error.log)`);
}

async function connectionsOf(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return ((await response.json()) as { connections: number }).connections;
}

test('behind nginx with the documented config, clients spread over both nodes share a room without sticky sessions', async (t) => {
  if (!existsSync(NGINX)) {
    if (process.env.CI === 'true') throw new Error(`nginx is required in CI but ${NGINX} is missing (.ci/run installs it)`);
    t.skip(`nginx is not installed at ${NGINX} (apt-get install -y nginx)`);
    return;
  }
  const setup = await cluster(t);
  if (setup === null) return;
  const url = await nginx(t, setup.ports);
  const alice = await connect(t, url, { token: await token('alice') });
  const bob = await connect(t, url, { token: await token('bob') });
  assert.deepEqual(await Promise.all(setup.ports.map(connectionsOf)), [1, 1], 'least_conn put one client on each node');
  await alice.request({ type: 'join', room: 'lobby' }, 'j');
  await bob.request({ type: 'join', room: 'lobby' }, 'j');
  await alice.request({ type: 'chat', room: 'lobby', text: 'through nginx' }, 'c1');
  assert.equal((await bob.next('chat')).text, 'through nginx');
  await bob.close();
  const again = await connect(t, url, { token: await token('bob') });
  await again.request({ type: 'join', room: 'lobby', since: 0, epoch: again.ofType('welcome')[0].epoch }, 'j2');
  assert.deepEqual(again.ofType('chat').map((m) => m.text), ['through nginx'], 'a reconnect through the proxy resumes');
});
