// Dead-link detection against the real server: a TCP proxy between the SDK and the server stops forwarding (a
// silently dead link: no FIN, no RST, no close frame). The SDK must notice from the silence, bounded by the
// server's announced heartbeatMs, and reconnect on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { WebSocket } from '../../src/node/index.js';
import { ChatClient } from '../../src/sdk/index.js';
import { startChatServer, waitFor } from './chat-server-fixture.js';

/** A TCP proxy whose current connections can be made to swallow everything. */
async function proxy(targetPort: number) {
  const pairs = new Set<{ a: Socket; b: Socket; dead: boolean }>();
  const server = createServer((a) => {
    const b = connect(targetPort, '127.0.0.1');
    const pair = { a, b, dead: false };
    pairs.add(pair);
    a.on('data', (chunk) => {
      if (!pair.dead) b.write(chunk);
    });
    b.on('data', (chunk) => {
      if (!pair.dead) a.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('close', () => {
      if (!pair.dead) end();
    });
    b.on('close', () => {
      if (!pair.dead) end();
    });
    a.on('error', () => {});
    b.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    get connections() {
      return [...pairs].filter((p) => !p.dead).length;
    },
    blackhole() {
      for (const pair of pairs) pair.dead = true;
    },
    async close() {
      for (const pair of pairs) {
        pair.a.destroy();
        pair.b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a link that goes silent is detected from the server heartbeat interval and replaced', async (t) => {
  const fixture = await startChatServer(t, { heartbeatMs: 250 });
  const relay = await proxy(fixture.port);
  t.after(() => relay.close());
  const frank = new ChatClient({
    url: `ws://127.0.0.1:${relay.port}/ws`,
    name: 'frank',
    WebSocket,
    environment: null,
    backoff: { initialDelayMs: 50, maxDelayMs: 100 },
  });
  t.after(() => frank.disconnect());
  const closes: string[] = [];
  frank.on('close', (c) => closes.push(c.reason));
  frank.connect();
  await frank.join('lobby');
  // Quiet but alive: the app-level ping keeps it open across several intervals.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  assert.deepEqual(closes, [], 'a quiet healthy link is not dropped');
  relay.blackhole();
  const cutAt = Date.now();
  await waitFor(() => closes.length > 0, 'the dead link to be noticed', 8000);
  assert.match(closes[0] ?? '', /no answer from the server/);
  await waitFor(() => frank.state.kind === 'open' && relay.connections === 1, 'a new connection');
  t.diagnostic(`dead link replaced ${Date.now() - cutAt} ms after the cut`);
  const ack = await frank.send('lobby', 'through the new link');
  assert.equal(typeof ack.offset, 'number');
});
