// Node integration with JWT authentication: the token travels as a subprotocol, an expired token closes the
// connection with 4001, and the SDK asks its token function for a new one and resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { createChatServer } from '../../src/cli/chat-server.js';
import { WebSocket } from '../../src/node/index.js';
import { ChatClient } from '../../src/sdk/index.js';
import { waitFor } from './chat-server-fixture.js';

const secret = 'test-secret-for-the-sdk-auth-test-0123456789';

function sign(sub: string, expiresInSeconds: number): Promise<string> {
  return new SignJWT({ name: sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(new TextEncoder().encode(secret));
}

test('an expired token closes with 4001; the SDK fetches a fresh token, reconnects and resumes the room', async (t) => {
  const server = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret, clockToleranceSeconds: 0 }, shutdownDrainMs: 100 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const lifetimes = [2, 3600];
  let issued = 0;
  const erin = new ChatClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: () => sign('erin', lifetimes[Math.min(issued++, lifetimes.length - 1)] ?? 3600),
    WebSocket,
    environment: null,
    backoff: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  t.after(() => erin.disconnect());
  const closes: string[] = [];
  erin.on('close', (c) => closes.push(`${c.code}:${c.action}`));
  erin.connect();
  await erin.join('lobby');
  assert.deepEqual(erin.user, { id: 'erin', name: 'erin' });
  await waitFor(() => closes.length > 0, 'the token to expire', 8000);
  assert.equal(closes[0], '4001:reauth');
  await waitFor(() => erin.state.kind === 'open', 'erin to come back with a new token');
  assert.equal(issued, 2);
  const ack = await erin.send('lobby', 'still here');
  assert.equal(typeof ack.offset, 'number');
});

test('without a token the handshake is refused (HTTP 401) and the SDK stops after maxFailedAttempts', async (t) => {
  const server = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret }, shutdownDrainMs: 100 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const nobody = new ChatClient({
    url: `ws://127.0.0.1:${port}/ws`,
    WebSocket,
    environment: null,
    maxFailedAttempts: 3,
    backoff: { initialDelayMs: 20, maxDelayMs: 40 },
  });
  const pending = nobody.dm('erin', 'hello?');
  nobody.connect();
  await assert.rejects(pending, (e: unknown) => e instanceof Error && /cannot connect/.test(e.message));
  const state = nobody.state;
  assert.equal(state.kind, 'closed');
});
