// The SDK's ReconnectingSocket driving our Node WHATWG WebSocket against our server: the SDK needs only a WHATWG
// WebSocket, so browser-side reconnect logic runs in Node unchanged. The first connection is closed with 1012 (server
// restarting, policy: retry); the SDK reconnects through a new WebSocket and exchanges a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import type { Connection } from '../../src/node/connection.js';
import { ReconnectingSocket } from '../../src/sdk/reconnecting-socket.js';

test('ReconnectingSocket reconnects through our WebSocket after a 1012 close and then exchanges messages', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0 });
  await once(wss, 'listening');
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  let connections = 0;
  wss.on('connection', (socket: Connection) => {
    connections++;
    if (connections === 1) {
      socket.close(1012, 'restarting');
      return;
    }
    socket.on('message', (data: Buffer) => socket.send(`echo: ${data.toString()}`));
  });

  const socket = new ReconnectingSocket({
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    WebSocket,
    environment: null,
    backoff: { initialDelayMs: 20, maxDelayMs: 50 },
  });
  t.after(() => socket.disconnect());
  const closes: number[] = [];
  socket.on('close', (info) => closes.push(info.code));
  let opens = 0;
  const secondOpen = new Promise<void>((resolve) =>
    socket.on('open', () => {
      opens++;
      if (opens === 2) resolve();
    }),
  );
  socket.connect();
  await secondOpen;
  assert.deepEqual(closes, [1012]);
  const reply = new Promise<string>((resolve) => socket.on('message', resolve));
  assert.equal(socket.send('hello'), true);
  assert.equal(await reply, 'echo: hello');
  assert.equal(connections, 2);
});
