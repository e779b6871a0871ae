import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideClose, defaultClosePolicy } from '../../src/sdk/close-policy.js';
import { AppCloseCode, CLOSE_POLICY } from '../../src/realtime/messages.js';

test('a close the application asked for stops, whatever the code', () => {
  for (const code of [1000, 1001, 1006, 4001]) {
    const d = decideClose(code, '', { byClient: true });
    assert.equal(d.action, 'stop');
    assert.match(d.reason, /disconnect\(\)/);
  }
});

test('lost connections, going away, restarts and internal errors retry', () => {
  for (const code of [1001, 1006, 1011, 1012, 1013]) assert.equal(decideClose(code).action, 'retry', String(code));
});

test('normal closure from the server, policy violation, too big and forbidden stop with a reason', () => {
  for (const code of [1000, 1008, 1009, AppCloseCode.Forbidden]) {
    const d = decideClose(code, 'bye');
    assert.equal(d.action, 'stop', String(code));
    assert.ok(d.reason.length > 0);
    assert.equal(d.closeReason, 'bye');
    assert.equal(d.code, code);
  }
});

test('4001 (token expired) asks for re-authentication', () => {
  assert.equal(decideClose(AppCloseCode.Unauthorized).action, 'reauth');
});

test('1013 waits at least a second before the first attempt', () => {
  assert.ok((decideClose(1013).minDelayMs ?? 0) >= 1000);
});

test('unknown 4xxx codes stop and any other unknown code retries (docs/close-codes.md)', () => {
  assert.equal(decideClose(4999).action, 'stop');
  assert.equal(decideClose(4123).action, 'stop');
  assert.equal(decideClose(1014).action, 'retry');
  assert.equal(decideClose(3000).action, 'retry');
});

test('agrees with the realtime CLOSE_POLICY table for every code it lists', () => {
  const map = { retry: 'retry', reauthenticate: 'reauth', stop: 'stop' } as const;
  for (const [code, policy] of Object.entries(CLOSE_POLICY)) {
    assert.equal(decideClose(Number(code)).action, map[policy], `code ${code}`);
  }
  for (const code of Object.keys(defaultClosePolicy)) {
    const listed = (CLOSE_POLICY as Record<string, string>)[code];
    if (listed !== undefined) assert.equal(decideClose(Number(code)).action, map[listed as keyof typeof map], `code ${code}`);
  }
});

test('overrides replace a row without touching the others', () => {
  const policy = { 1000: { action: 'retry', reason: 'our server says 1000 on deploys' } } as const;
  assert.equal(decideClose(1000, '', { policy }).action, 'retry');
  assert.equal(decideClose(1008, '', { policy }).action, 'stop');
});
