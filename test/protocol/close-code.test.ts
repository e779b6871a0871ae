import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode, isValidReceivedCloseCode, isValidSendCloseCode } from '../../src/protocol/index.js';

test('CloseCode has the IANA names and numbers', () => {
  assert.deepEqual(CloseCode, {
    NormalClosure: 1000, GoingAway: 1001, ProtocolError: 1002, UnsupportedData: 1003, NoStatusReceived: 1005,
    AbnormalClosure: 1006, InvalidFramePayloadData: 1007, PolicyViolation: 1008, MessageTooBig: 1009,
    MandatoryExtension: 1010, InternalError: 1011, ServiceRestart: 1012, TryAgainLater: 1013, BadGateway: 1014,
    TlsHandshake: 1015,
  });
});

test('isValidReceivedCloseCode accepts the assigned wire codes and 3000-4999 only', () => {
  const accepted: number[] = [];
  for (let code = 0; code < 6000; code++) if (isValidReceivedCloseCode(code)) accepted.push(code);
  const expected = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
  for (let code = 3000; code <= 4999; code++) expected.push(code);
  assert.deepEqual(accepted, expected);
  assert.equal(isValidReceivedCloseCode(65535), false);
});

test('isValidSendCloseCode refuses reserved, unassigned and non-integer codes', () => {
  for (const code of [1000, 1001, 1008, 1011, 3000, 4999]) assert.equal(isValidSendCloseCode(code), true, String(code));
  for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, Number.NaN, -1]) assert.equal(isValidSendCloseCode(code), false, String(code));
});
