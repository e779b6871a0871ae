import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as sdk from '../../src/sdk/index.js';
import { INBOX_PREFIX, MessageLimits } from '../../src/realtime/messages.js';

test('the public surface of hayate/sdk is exactly these runtime names', () => {
  assert.deepEqual(Object.keys(sdk).sort(), [
    'Backoff',
    'ChatClient',
    'ChatError',
    'Emitter',
    'INBOX_PREFIX',
    'MAX_TEXT_LENGTH',
    'Outbox',
    'OutboxFullError',
    'PROTOCOL',
    'ReconnectingSocket',
    'browserEnvironment',
    'decideClose',
    'defaultClosePolicy',
    'systemClock',
  ]);
});

test('the constants the SDK copies (it may import only types from realtime/) agree with the wire protocol', () => {
  assert.equal(sdk.INBOX_PREFIX, INBOX_PREFIX);
  assert.equal(sdk.MAX_TEXT_LENGTH, MessageLimits.maxTextLength);
});
