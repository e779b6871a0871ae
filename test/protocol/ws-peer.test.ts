// The core against ws's own Receiver and Sender (the `ws` package as an in-memory interop peer, no sockets):
// what we send, ws parses; what ws sends, we parse; and for bad input both fail with the same close code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ws from 'ws';
import { WebSocketProtocol } from '../../src/protocol/index.js';
import type { ProtocolEvent } from '../../src/protocol/index.js';
import { clientFrame, closePayload, frame } from '../helpers/bytes.js';

interface WsReceiver {
  on(event: string, listener: (...args: never[]) => void): void;
  write(chunk: Buffer): void;
}
interface WsSender {
  send(data: Buffer | string, options: { binary: boolean; fin: boolean; mask: boolean; compress: boolean }, cb?: () => void): void;
  ping(data: Buffer, mask: boolean, cb?: () => void): void;
  close(code: number, reason: string, mask: boolean, cb?: () => void): void;
}
const { Receiver, Sender } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload?: number; binaryType?: string }) => WsReceiver;
  Sender: new (socket: unknown) => WsSender;
};

function wsReceiver(isServer: boolean, maxPayload = 0): { receiver: WsReceiver; log: unknown[] } {
  const receiver = new Receiver({ isServer, maxPayload, binaryType: 'nodebuffer' });
  const log: unknown[] = [];
  receiver.on('message', ((data: Buffer, isBinary: boolean) => log.push(['message', isBinary, Buffer.from(data).toString('hex')])) as never);
  receiver.on('ping', ((data: Buffer) => log.push(['ping', Buffer.from(data).toString('hex')])) as never);
  receiver.on('pong', ((data: Buffer) => log.push(['pong', Buffer.from(data).toString('hex')])) as never);
  receiver.on('conclude', ((code: number, reason: Buffer) => log.push(['close', code, reason.toString()])) as never);
  receiver.on('error', ((error: Error & { [key: symbol]: number }) => {
    const status = Object.getOwnPropertySymbols(error).map((s) => error[s]).find((v) => typeof v === 'number');
    log.push(['error', status]);
  }) as never);
  return { receiver, log };
}

function wsSender(): { sender: WsSender; written: Buffer[] } {
  const written: Buffer[] = [];
  const socket = { cork() {}, uncork() {}, write(chunk: Buffer, cb?: () => void) { written.push(Buffer.from(chunk)); cb?.(); return true; } };
  return { sender: new Sender(socket), written };
}

const summarize = (events: ProtocolEvent[]): unknown[] =>
  events.map((e) =>
    e.type === 'message' ? ['message', e.binary, e.data.toString('hex')]
      : e.type === 'ping' || e.type === 'pong' ? [e.type, e.data.toString('hex')]
        : e.type === 'close' ? ['close', e.code, e.reason]
          : ['error', e.error.closeCode]);

test('ws parses everything our client sends, one byte at a time', () => {
  const client = new WebSocketProtocol({ role: 'client' });
  client.sendText('héllo');
  client.sendBinary(Buffer.alloc(70_000, 3));
  client.sendFragment('text', Buffer.from('frag'), false);
  client.ping(Buffer.from('p'));
  client.sendFragment('text', Buffer.from('ment'), true);
  client.sendText('');
  client.close(4001, 'bye');
  const bytes = Buffer.concat(client.takeOutgoing());
  const { receiver, log } = wsReceiver(true);
  for (let i = 0; i < bytes.length; i += i < 200 ? 1 : 4096) receiver.write(Buffer.from(bytes.subarray(i, i < 200 ? i + 1 : i + 4096)));
  assert.deepEqual(log, [
    ['message', false, Buffer.from('héllo').toString('hex')],
    ['message', true, Buffer.alloc(70_000, 3).toString('hex')],
    ['ping', '70'],
    ['message', false, Buffer.from('fragment').toString('hex')],
    ['message', false, ''],
    ['close', 4001, 'bye'],
  ]);
});

test('our client parses everything a ws server sends, and our server everything a ws client sends', () => {
  for (const mask of [false, true]) {
    const { sender, written } = wsSender();
    sender.send('κόσμε', { binary: false, fin: true, mask, compress: false });
    sender.send(Buffer.alloc(300, 1), { binary: true, fin: true, mask, compress: false });
    sender.send(Buffer.from('ab'), { binary: true, fin: false, mask, compress: false });
    sender.ping(Buffer.from('x'), mask);
    sender.send(Buffer.from('cd'), { binary: true, fin: true, mask, compress: false });
    sender.close(1000, 'done', mask);
    const ours = new WebSocketProtocol({ role: mask ? 'server' : 'client' });
    for (const chunk of written) ours.receive(chunk);
    assert.deepEqual(summarize(ours.takeEvents()), [
      ['message', false, Buffer.from('κόσμε').toString('hex')],
      ['message', true, Buffer.alloc(300, 1).toString('hex')],
      ['ping', '78'],
      ['message', true, Buffer.from('abcd').toString('hex')],
      ['close', 1000, 'done'],
    ]);
  }
});

test('for each violation ws and our server fail with the same close code', async () => {
  const cases: [string, Buffer][] = [
    ['unmasked frame', frame({ opcode: 1, payload: 'x' })],
    ['RSV1 without extension', clientFrame({ opcode: 1, rsv1: true, payload: 'x' })],
    ['RSV2', clientFrame({ opcode: 1, rsv2: true, payload: 'x' })],
    ['reserved opcode 3', clientFrame({ opcode: 3 })],
    ['reserved opcode 11', clientFrame({ opcode: 11 })],
    ['fragmented ping', clientFrame({ opcode: 9, fin: false })],
    ['126-byte ping', clientFrame({ opcode: 9, payload: Buffer.alloc(126) })],
    ['continuation without message', clientFrame({ opcode: 0, payload: 'x' })],
    ['text inside fragmented message', Buffer.concat([clientFrame({ opcode: 1, fin: false, payload: 'a' }), clientFrame({ opcode: 1, payload: 'b' })])],
    ['invalid UTF-8', clientFrame({ opcode: 1, payload: Buffer.from([0xc0, 0xaf]) })],
    ['invalid UTF-8 in a fragment', Buffer.concat([clientFrame({ opcode: 1, fin: false, payload: 'a' }), clientFrame({ opcode: 0, payload: Buffer.from([0xed, 0xa0, 0x80]) })])],
    ['1-byte close', clientFrame({ opcode: 8, payload: Buffer.from([3]) })],
    ['close code 1005', clientFrame({ opcode: 8, payload: closePayload(1005) })],
    ['close code 2999', clientFrame({ opcode: 8, payload: closePayload(2999) })],
    ['close code 5000', clientFrame({ opcode: 8, payload: closePayload(5000) })],
    ['invalid UTF-8 close reason', clientFrame({ opcode: 8, payload: closePayload(1000, Buffer.from([0xff])) })],
    ['message over maxPayload', clientFrame({ opcode: 2, payload: Buffer.alloc(101) })],
  ];
  for (const [name, bytes] of cases) {
    const { receiver, log } = wsReceiver(true, 100);
    receiver.write(Buffer.from(bytes));
    await new Promise((resolve) => setImmediate(resolve));
    const theirs = log.find((entry) => (entry as unknown[])[0] === 'error') as [string, number] | undefined;
    const ours = new WebSocketProtocol({ role: 'server', maxPayload: 100 });
    ours.receive(Buffer.from(bytes));
    assert.ok(theirs, `ws fails on ${name}`);
    assert.equal(ours.failure?.closeCode, theirs[1], name);
  }
});
