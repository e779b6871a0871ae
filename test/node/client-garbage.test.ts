// A server that completes the handshake and then sends arbitrary bytes (seeded fast-check, bounded): the WHATWG client
// never throws, never crashes the process, and always ends with exactly one close event whose code is either one the
// peer sent or 1006, preceded by an error event when it failed the connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { WebSocket, type CloseEvent } from '../../src/node/websocket.js';
import { acceptKey } from '../../src/protocol/index.js';

test('random bytes after the 101 always end in exactly one close event and never an uncaught error', async (t) => {
  let payload = Buffer.alloc(0);
  const server = createServer();
  const sockets = new Set<Duplex>();
  server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(String(request.headers['sec-websocket-key']))}\r\n\r\n`,
    );
    socket.end(payload);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));

  // Frames that look like frames more often than pure noise: a plausible first byte, then anything.
  const bytes = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 200 }),
    fc.tuple(fc.constantFrom(0x81, 0x82, 0x01, 0x80, 0x88, 0x89, 0x8a, 0xc1, 0x83), fc.uint8Array({ maxLength: 150 })).map(
      ([first, rest]) => Uint8Array.from([first, ...rest]),
    ),
  );
  await fc.assert(
    fc.asyncProperty(bytes, async (sample) => {
      payload = Buffer.from(sample);
      const ws = new WebSocket(url, [], { closeTimeout: 200, perMessageDeflate: false });
      const events: string[] = [];
      ws.onopen = () => events.push('open');
      ws.onerror = () => events.push('error');
      ws.onmessage = () => events.push('message');
      ws.onclose = () => events.push('close');
      const [close] = (await once(ws, 'close')) as [CloseEvent];
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(events.filter((e) => e === 'close').length, 1, 'exactly one close event');
      assert.equal(events.at(-1), 'close');
      assert.equal(events[0], 'open');
      assert.equal(ws.readyState, WebSocket.CLOSED);
      if (close.code === 1006) assert.equal(close.wasClean, false);
      else assert.ok(close.code === 1005 || (close.code >= 1000 && close.code < 5000), String(close.code));
      if (events.includes('error')) assert.equal(close.code, 1006);
    }),
    { seed: 4242, numRuns: 40 },
  );
  assert.deepEqual(uncaught, []);
});
