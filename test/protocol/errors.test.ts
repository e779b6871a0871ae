import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidStateError,
  MessageTooBigError,
  ProtocolError,
  ProtocolErrorCode,
  WebSocketError,
} from '../../src/protocol/index.js';

test('ProtocolError is a plain value with a stable code, a close code and a message', () => {
  const error = new ProtocolError(ProtocolErrorCode.InvalidOpcode, 1002, 'invalid opcode 3');
  assert.equal(error.code, 'WS_INVALID_OPCODE');
  assert.equal(error.closeCode, 1002);
  assert.equal(error.message, 'invalid opcode 3');
  assert.equal(error instanceof Error, false);
});

test('the public errors share the WebSocketError base and carry their fields', () => {
  const cause = new Error('socket reset');
  const closed = new ConnectionClosedError({ code: 1006, reason: '', wasClean: false, closedBy: 'remote', cause });
  assert.ok(closed instanceof WebSocketError && closed instanceof Error);
  assert.equal(closed.name, 'ConnectionClosedError');
  assert.equal(closed.code, 1006);
  assert.equal(closed.wasClean, false);
  assert.equal(closed.closedBy, 'remote');
  assert.equal(closed.cause, cause);

  const handshake = new HandshakeError('unexpected status 403', { status: 403, headers: { 'x-reason': 'nope' } });
  assert.ok(handshake instanceof WebSocketError);
  assert.equal(handshake.code, 'WS_HANDSHAKE_FAILED');
  assert.equal(handshake.status, 403);
  assert.deepEqual(handshake.headers, { 'x-reason': 'nope' });

  const state = new InvalidStateError('not open');
  assert.ok(state instanceof WebSocketError);
  assert.equal(state.code, 'WS_INVALID_STATE');
  assert.equal(state.name, 'InvalidStateError');

  const big = new MessageTooBigError(1024);
  assert.ok(big instanceof WebSocketError);
  assert.equal(big.code, 'WS_MESSAGE_TOO_BIG');
  assert.equal(big.limit, 1024);
  assert.match(big.message, /1024/);
});
