// Pins the public surface of hayate/protocol (DESIGN.md principle 3): adding or removing an export is a decision,
// made by editing this list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protocol from '../../src/protocol/index.js';

const expected = [
  'CloseCode',
  'ConnectionClosedError',
  'DEFAULT_CLOSE_TIMEOUT_MS',
  'DEFAULT_DEFLATE_THRESHOLD',
  'DEFAULT_HANDSHAKE_TIMEOUT_MS',
  'DEFAULT_HEARTBEAT_INTERVAL_MS',
  'DEFAULT_MAX_HEADER_VALUE_LENGTH',
  'DEFAULT_MAX_PAYLOAD',
  'HandshakeError',
  'InvalidStateError',
  'MAX_CLOSE_REASON_BYTES',
  'MAX_CONTROL_PAYLOAD',
  'MessageTooBigError',
  'Opcode',
  'PERMESSAGE_DEFLATE',
  'PerMessageDeflate',
  'PreparedMessage',
  'ProtocolError',
  'ProtocolErrorCode',
  'ReadyState',
  'WEBSOCKET_GUID',
  'WEBSOCKET_VERSION',
  'WebSocketError',
  'WebSocketProtocol',
  'acceptKey',
  'acceptPerMessageDeflateResponse',
  'buildAcceptHeaders',
  'buildAcceptResponse',
  'buildClientRequestHeaders',
  'buildHttpResponse',
  'buildRejectResponse',
  'checkSubprotocols',
  'formatExtensions',
  'formatHeaderLines',
  'generateKey',
  'headerHasToken',
  'headerValue',
  'isControlOpcode',
  'isFieldValue',
  'isKnownOpcode',
  'isToken',
  'isValidKey',
  'isValidReceivedCloseCode',
  'isValidSendCloseCode',
  'negotiatePerMessageDeflate',
  'parseExtensions',
  'parseSubprotocols',
  'parseTokenList',
  'perMessageDeflateOffer',
  'prepareMessage',
  'sharedReadBuffer',
  'validateClientRequest',
  'validateServerResponse'
];

test('protocol/index.ts exports exactly the pinned names', () => {
  assert.deepEqual(Object.keys(protocol).sort(), [...expected].sort());
});

test('the core\'s own exports are the documented ones', () => {
  for (const name of ['WebSocketProtocol', 'ReadyState', 'prepareMessage', 'PreparedMessage', 'ProtocolError', 'WebSocketError',
    'ConnectionClosedError', 'HandshakeError', 'InvalidStateError', 'MessageTooBigError', 'CloseCode', 'Opcode',
    'isValidReceivedCloseCode', 'isValidSendCloseCode', 'DEFAULT_MAX_PAYLOAD']) {
    assert.ok(name in protocol, name);
  }
});
