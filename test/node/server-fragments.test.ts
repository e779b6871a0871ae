// Fragmented messages through our server over raw TCP: the conformance suites' 4 MiB message in 65,536 fragments is
// accepted (memory is bounded by the message limit, not by a fragment count), and a message over maxPayload spread
// over many small fragments is refused with 1009 as soon as the total passes the limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Connection } from '../../src/node/index.js';
import { clientFrame, closeCodeOf, parseServerFrames, rawWebSocket, startServer } from './server-fixtures.js';

function fragments(count: number, size: number, opcode: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(clientFrame({ opcode: i === 0 ? opcode : 0, fin: i === count - 1, payload: Buffer.alloc(size, 0x61 + (i % 26)) }));
  }
  return Buffer.concat(frames);
}

test('accepts a 4 MiB message sent in 65,536 fragments and echoes it whole', async (t) => {
  const { wss, port } = await startServer(t);
  const received = new Promise<Buffer>((resolve) =>
    wss.on('connection', (c: Connection) =>
      c.on('message', (data: Buffer, isBinary: boolean) => {
        c.send(String(data.length));
        resolve(Buffer.from(data));
        assert.equal(isBinary, true);
      }),
    ),
  );
  const raw = await rawWebSocket(t, port);
  raw.socket.write(fragments(65_536, 64, 0x2));
  const data = await received;
  assert.equal(data.length, 4 * 1024 * 1024);
  assert.equal(data[0], 0x61);
  assert.equal(data[64 * 27], 0x62);
  const frames = parseServerFrames(await raw.waitFor(2 + 7));
  assert.equal(frames[0].payload.toString(), String(4 * 1024 * 1024));
});

test('refuses with 1009 a message whose small fragments add up past maxPayload', async (t) => {
  const { wss, port } = await startServer(t, { maxPayload: 64 * 1024 });
  let messages = 0;
  wss.on('connection', (c: Connection) => c.on('message', () => messages++));
  const raw = await rawWebSocket(t, port);
  raw.socket.write(fragments(2048, 64, 0x1));
  await raw.ended;
  assert.equal(closeCodeOf(raw.received()), 1009);
  assert.equal(messages, 0);
});
