// Two chat servers sharing one Redis (the Redis broker): users on different nodes share rooms, DMs, presence and
// history, as if there were one server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requireRedis } from '../helpers/redis.js';
import { RedisBroker } from '../../src/realtime/brokers/redis.js';
import { RedisConnection } from '../../src/realtime/brokers/redis-connection.js';
import { createChatServer } from '../../src/cli/chat-server.js';
import { SECRET, connect, token } from './helpers.js';

async function cluster(t: TestContext): Promise<string[] | null> {
  const url = await requireRedis(t);
  if (url === null) return null;
  const prefix = `hayate-test:${randomBytes(4).toString('hex')}:`;
  const urls: string[] = [];
  for (let i = 0; i < 2; i++) {
    const broker = await RedisBroker.connect({ url, prefix });
    const server = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0, broker });
    const { port } = await server.listen();
    t.after(async () => {
      await server.close();
      await broker.close();
    });
    urls.push(`ws://127.0.0.1:${port}/ws`);
  }
  t.after(async () => {
    const admin = await RedisConnection.open(url);
    await admin.command(['EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1", 0, `${prefix}*`]);
    admin.close();
  });
  return urls;
}

test('users on two nodes chat in one room, see each other present, and exchange DMs', async (t) => {
  const urls = await cluster(t);
  if (urls === null) return;
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
  const urls = await cluster(t);
  if (urls === null) return;
  const writer = await connect(t, urls[0], { token: await token('writer') });
  await writer.request({ type: 'join', room: 'r' }, 'j');
  for (let i = 1; i <= 5; i++) await writer.request({ type: 'chat', room: 'r', text: `m${i}` }, `c${i}`);
  const reader = await connect(t, urls[1], { token: await token('reader') });
  await reader.request({ type: 'join', room: 'r', since: 2, epoch: reader.ofType('welcome')[0].epoch }, 'j');
  assert.deepEqual(reader.ofType('chat').map((m) => m.text), ['m3', 'm4', 'm5']);
});

test('a message resent through the other node after a reconnect is delivered once', async (t) => {
  const urls = await cluster(t);
  if (urls === null) return;
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
