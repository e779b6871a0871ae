// A compressed broadcast through the real server: one prepared message sent to N ws clients that negotiated
// permessage-deflate without server context takeover is compressed ONCE (RFC 7692 §7.1.1.1 makes the bytes shareable),
// and every client inflates the same text. Connections that keep a server context are compressed one by one.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type WebSocket from 'ws';
import { PerMessageDeflate } from '../../src/protocol/permessage-deflate.js';
import { openWs, startServer } from './server-fixtures.js';

const TEXT = JSON.stringify({ type: 'message', room: 'lobby', text: 'hello everyone '.repeat(40) });

function countCompress(t: { after: (fn: () => void) => void }): () => number {
  const real = PerMessageDeflate.prototype.compress;
  let calls = 0;
  PerMessageDeflate.prototype.compress = function (this: PerMessageDeflate, payload: Buffer) {
    calls++;
    return real.call(this, payload);
  };
  t.after(() => {
    PerMessageDeflate.prototype.compress = real;
  });
  return () => calls;
}

async function broadcastTo(t: Parameters<typeof startServer>[0], serverNoContextTakeover: boolean, n: number): Promise<{ calls: number; received: string[]; compressed: boolean[] }> {
  const { wss, url } = await startServer(t, { perMessageDeflate: { serverNoContextTakeover, threshold: 0 } });
  const clients: WebSocket[] = [];
  for (let i = 0; i < n; i++) clients.push(await openWs(t, url, undefined, { perMessageDeflate: true }));
  while (wss.clients.size < n) await new Promise((r) => setTimeout(r, 5));
  const compressed: boolean[] = [];
  for (const conn of wss.clients) compressed.push(conn.extensions.includes('permessage-deflate'));
  const calls = countCompress(t);
  const messages = clients.map((ws) => once(ws, 'message') as Promise<[Buffer, boolean]>);
  const prepared = wss.prepare(TEXT);
  for (const conn of wss.clients) conn.send(prepared);
  const received = (await Promise.all(messages)).map(([data]) => data.toString());
  return { calls: calls(), received, compressed };
}

test('a prepared broadcast to 8 ws clients without server context takeover is compressed once', async (t) => {
  const { calls, received, compressed } = await broadcastTo(t, true, 8);
  assert.deepEqual(compressed, Array(8).fill(true), 'every connection negotiated permessage-deflate');
  assert.deepEqual(received, Array(8).fill(TEXT));
  assert.equal(calls, 1);
});

test('with server context takeover each connection compresses the broadcast itself', async (t) => {
  const { calls, received } = await broadcastTo(t, false, 3);
  assert.deepEqual(received, Array(3).fill(TEXT));
  assert.equal(calls, 3);
});
