// Node integration: real chat server (src/cli/chat-server.ts), real WebSockets (hayate/node's WHATWG client), the SDK
// reconnecting through a server crash and restart while another client keeps sending.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/node/index.js';
import { WebSocket as WsWebSocket } from 'ws';
import { ChatClient } from '../../src/sdk/index.js';
import type { ChatMessage } from '../../src/realtime/messages.js';
import { startChatServer, waitFor, type ChatFixture } from './chat-server-fixture.js';

function client(fixture: ChatFixture, name: string): ChatClient {
  return new ChatClient({
    url: fixture.url,
    name,
    WebSocket,
    environment: null,
    backoff: { initialDelayMs: 50, maxDelayMs: 300, resetAfterMs: 2000 },
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function crashAndResume(t: TestContext, keepHistory: boolean): Promise<void> {
  const fixture = await startChatServer(t);
  const alice = client(fixture, 'alice');
  const bob = client(fixture, 'bob');
  t.after(() => {
    alice.disconnect();
    bob.disconnect();
  });
  const aliceGot: ChatMessage[] = [];
  const bobGot: ChatMessage[] = [];
  alice.on('message', (m) => aliceGot.push(m));
  bob.on('message', (m) => bobGot.push(m));
  const epochNotices: boolean[] = [];
  alice.on('joined', (j) => epochNotices.push(j.replay.epochChanged));
  alice.connect();
  bob.connect();
  await Promise.all([alice.join('lobby'), bob.join('lobby')]);

  // Bob keeps sending through the crash; Alice sends a few while the server is down.
  const total = 40;
  const bobSends: Array<Promise<unknown>> = [];
  const aliceSends: Array<Promise<unknown>> = [];
  for (let i = 1; i <= total; i++) {
    bobSends.push(bob.send('lobby', `b${i}`));
    if (i === 15) {
      await fixture.kill();
      await waitFor(() => alice.state.kind !== 'open' && bob.state.kind !== 'open', 'both clients to notice the crash');
      for (let k = 1; k <= 5; k++) aliceSends.push(alice.send('lobby', `a${k}`));
    }
    if (i === 25) await fixture.restart({ keepHistory });
    await sleep(15);
  }
  await Promise.all([...bobSends, ...aliceSends]);
  const want = [...Array.from({ length: total }, (_, i) => `b${i + 1}`)];
  const wantA = ['a1', 'a2', 'a3', 'a4', 'a5'];
  await waitFor(() => aliceGot.filter((m) => m.from.name === 'bob').length >= total, 'alice to receive all of bob\'s messages');
  await waitFor(() => bobGot.filter((m) => m.from.name === 'alice').length >= wantA.length, 'bob to receive alice\'s offline sends');
  await sleep(100); // anything extra (a duplicate) would arrive now

  const fromBob = aliceGot.filter((m) => m.from.name === 'bob').map((m) => m.text);
  assert.deepEqual(fromBob, want, 'alice receives every message of bob once, in order');
  assert.deepEqual(bobGot.filter((m) => m.from.name === 'bob').map((m) => m.text), want, 'bob sees his own messages once, in order');
  assert.deepEqual(bobGot.filter((m) => m.from.name === 'alice').map((m) => m.text), wantA, 'alice\'s offline sends arrive once, in order');
  assert.deepEqual(aliceGot.filter((m) => m.from.name === 'alice').map((m) => m.text), wantA);
  assert.equal(alice.pending().length + bob.pending().length, 0);
  if (!keepHistory) assert.ok(epochNotices.includes(true), 'the lost history is surfaced as epochChanged');
  else assert.ok(!epochNotices.includes(true));
}

test('a server crash and restart with history kept: every message arrives once and in order, offline sends once', async (t) => {
  await crashAndResume(t, true);
});

test('a server crash and restart that lost its history (new epoch): still every message once, in order', async (t) => {
  await crashAndResume(t, false);
});

test('a graceful shutdown (1001) is retried and the rooms resume', async (t) => {
  const fixture = await startChatServer(t);
  const alice = client(fixture, 'alice');
  t.after(() => alice.disconnect());
  const closes: string[] = [];
  alice.on('close', (c) => closes.push(`${c.code}:${c.action}`));
  alice.connect();
  await alice.join('lobby');
  await fixture.server.close();
  await waitFor(() => closes.length > 0, 'the close');
  assert.equal(closes[0], '1001:retry');
  await fixture.restart();
  await waitFor(() => alice.state.kind === 'open', 'alice to reconnect');
  const result = await alice.send('lobby', 'back');
  assert.equal(typeof result.offset, 'number');
});

test('disconnect() closes with 1000 and the client never comes back', async (t) => {
  const fixture = await startChatServer(t);
  const alice = client(fixture, 'alice');
  alice.connect();
  await alice.join('lobby');
  assert.equal(fixture.server.hub.connections, 1);
  alice.disconnect();
  await waitFor(() => fixture.server.hub.connections === 0, 'the server to see the close');
  await sleep(400);
  assert.equal(fixture.server.hub.connections, 0);
  assert.equal(alice.state.kind, 'closed');
});

test('a DM reaches every connection of both users once, and the inbox resumes after a crash', async (t) => {
  const fixture = await startChatServer(t);
  const alice = client(fixture, 'alice');
  const bob = client(fixture, 'bob');
  t.after(() => {
    alice.disconnect();
    bob.disconnect();
  });
  const aliceDms: string[] = [];
  const bobDms: string[] = [];
  alice.on('dm', (m) => aliceDms.push(`${m.from.name}:${m.text}`));
  bob.on('dm', (m) => bobDms.push(`${m.from.name}:${m.text}`));
  alice.connect();
  bob.connect();
  await waitFor(() => alice.state.kind === 'open' && bob.state.kind === 'open', 'both open');
  await alice.dm('dev:bob', 'hi bob');
  await waitFor(() => bobDms.length === 1 && aliceDms.length === 1, 'the DM copies');
  await fixture.kill();
  const later = alice.dm('dev:bob', 'while you were away');
  await fixture.restart({ keepHistory: true });
  await later;
  await waitFor(() => bobDms.length === 2, 'the second DM');
  await sleep(100);
  assert.deepEqual(bobDms, ['alice:hi bob', 'alice:while you were away']);
  assert.deepEqual(aliceDms, ['alice:hi bob', 'alice:while you were away']);
});

test('runs on the ws package\'s WebSocket as well (any WHATWG-style WebSocket will do)', async (t) => {
  const fixture = await startChatServer(t);
  const carol = new ChatClient({ url: fixture.url, name: 'carol', WebSocket: WsWebSocket as unknown as ConstructorParameters<typeof ChatClient>[0]['WebSocket'], environment: null });
  t.after(() => carol.disconnect());
  const got: string[] = [];
  carol.on('message', (m) => got.push(m.text));
  carol.connect();
  await carol.join('lobby');
  const ack = await carol.send('lobby', 'over ws');
  assert.equal(ack.duplicate, false);
  await waitFor(() => got.length === 1, 'the echo');
  assert.deepEqual(got, ['over ws']);
  assert.deepEqual(carol.user, { id: 'dev:carol', name: 'carol' });
});
