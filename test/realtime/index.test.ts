// Pins the runtime names hayate/realtime exports (DESIGN.md: each layer's index.ts is its whole public surface).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as realtime from '../../src/realtime/index.js';

test('hayate/realtime exports exactly its documented runtime names', () => {
  assert.deepEqual(Object.keys(realtime).sort(), [
    'AppCloseCode', 'CLOSE_POLICY', 'ClientMessage', 'ERROR_CODES', 'Hub', 'INBOX_PREFIX', 'MemoryBroker', 'MessageLimits',
    'RedisBroker', 'SUBPROTOCOL', 'ServerMessage', 'conversationId', 'createAuthenticator', 'decodeBinaryEnvelope', 'encodeBinaryEnvelope',
    'inboxRoom', 'selectSubprotocol',
  ]);
});
