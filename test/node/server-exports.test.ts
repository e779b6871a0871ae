// Pins the server/transport part of the Node layer's public surface (`hayate/node`): the names exist, and the
// transport's internals (the shared deadline timer, the flush queue) stay private.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as node from '../../src/node/index.js';

test('hayate/node exports the server, the connection and the heartbeat, and no transport internals', () => {
  const names = Object.keys(node);
  for (const name of [
    'Connection',
    'ReadyState',
    'DEFAULT_CLOSE_TIMEOUT',
    'DEFAULT_READ_PAUSE_BYTES',
    'WebSocketServer',
    'DEFAULT_HANDSHAKE_TIMEOUT',
    'Heartbeat',
    'DEFAULT_HEARTBEAT_INTERVAL',
    'MessageStream',
  ]) {
    assert.ok(names.includes(name), `${name} is exported`);
  }
  for (const internal of ['DeadlineTimer', 'sharedDeadlines', 'kConnection']) {
    assert.ok(!names.includes(internal), `${internal} stays internal`);
  }
  assert.deepEqual(node.ReadyState, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  assert.equal(node.DEFAULT_CLOSE_TIMEOUT, 30_000);
  assert.equal(node.DEFAULT_HEARTBEAT_INTERVAL, 30_000);
  assert.equal(node.DEFAULT_HANDSHAKE_TIMEOUT, 10_000);
  assert.equal(node.Connection.OPEN, 1);
});
