// Handshake authentication: token sources in order, HS256 / public key verification, claims, dev mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { createAuthenticator, devName, offeredProtocols, selectSubprotocol, tokenFromRequest } from '../../src/realtime/auth.js';

const secret = 'unit-test-secret-unit-test-secret';
const key = new TextEncoder().encode(secret);
const req = (headers: Record<string, string> = {}, query = '') => ({ headers, query: new URLSearchParams(query) });

async function sign(claims: Record<string, unknown>, sub: string | null = 'u1', expiresIn = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now - 10_000).setExpirationTime(now + expiresIn);
  if (sub !== null) jwt.setSubject(sub);
  return jwt.sign(key);
}

test('reads the token from Authorization first, then the subprotocol, then the query', () => {
  assert.deepEqual(tokenFromRequest(req({ authorization: 'Bearer aaa', 'sec-websocket-protocol': 'hayate.v1, token.bbb' }, 'token=ccc')), { token: 'aaa' });
  assert.deepEqual(tokenFromRequest(req({ 'sec-websocket-protocol': 'hayate.v1, token.bbb' }, 'token=ccc')), { token: 'bbb' });
  assert.deepEqual(tokenFromRequest(req({}, 'token=ccc')), { token: 'ccc' });
  assert.deepEqual(tokenFromRequest(req()), { token: undefined });
  assert.ok('error' in tokenFromRequest(req({ authorization: 'Basic x' })));
  assert.ok('error' in tokenFromRequest(req({ 'sec-websocket-protocol': 'token.bbb' })), 'token protocol needs hayate.v1');
});

test('selects hayate.v1 when offered and never the token protocol', () => {
  assert.deepEqual(offeredProtocols(' hayate.v1 ,token.x,, '), ['hayate.v1', 'token.x']);
  assert.equal(selectSubprotocol(['token.x', 'hayate.v1']), 'hayate.v1');
  assert.equal(selectSubprotocol(['token.x']), false);
});

test('admits a valid HS256 token with its subject, name and expiry', async () => {
  const auth = createAuthenticator({ secret });
  const result = await auth.authenticate(req({ authorization: `Bearer ${await sign({ name: 'Ann' })}` }));
  assert.ok(result.ok);
  assert.deepEqual(result.identity.user, { id: 'u1', name: 'Ann' });
  assert.ok((result.identity.expiresAt ?? 0) > Date.now());
  const fallback = await auth.authenticate(req({}, `token=${await sign({ preferred_username: 'annie' })}`));
  assert.ok(fallback.ok && fallback.identity.user.name === 'annie');
});

test('refuses missing, expired, subject-less and wrongly signed tokens with 401', async () => {
  const auth = createAuthenticator({ secret });
  const other = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime('1h')
    .sign(new TextEncoder().encode('a-completely-different-secret-value'));
  for (const token of [undefined, await sign({}, 'u1', -7200), await sign({}, null), other, 'x.y.z']) {
    const result = await auth.authenticate(req({}, token === undefined ? '' : `token=${token}`));
    assert.deepEqual([result.ok, result.ok ? 0 : result.status], [false, 401], String(token));
  }
});

test('checks issuer and audience when configured', async () => {
  const auth = createAuthenticator({ secret, issuer: 'https://issuer.example', audience: 'chat' });
  const good = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setIssuer('https://issuer.example')
    .setAudience('chat').setExpirationTime('1h').sign(key);
  assert.equal((await auth.authenticate(req({}, `token=${good}`))).ok, true);
  assert.equal((await auth.authenticate(req({}, `token=${await sign({})}`))).ok, false);
});

test('verifies RS256 tokens against a PEM public key', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const auth = createAuthenticator({ publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() });
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('rsa-user').setExpirationTime('1h').sign(privateKey);
  const result = await auth.authenticate(req({ authorization: `Bearer ${token}` }));
  assert.ok(result.ok && result.identity.user.id === 'rsa-user');
  assert.equal((await auth.authenticate(req({}, `token=${await sign({})}`))).ok, false, 'an HS256 token is not accepted');
});

test('dev mode admits anonymous users with clean names; without dev a method is required', async () => {
  const auth = createAuthenticator({ dev: true });
  const named = await auth.authenticate(req({}, 'name=%20Zoe%01%20'));
  assert.ok(named.ok && named.identity.anonymous);
  assert.deepEqual(named.identity.user, { id: 'dev:Zoe', name: 'Zoe' });
  const guest = await auth.authenticate(req());
  assert.ok(guest.ok && /^guest-[0-9a-f]{4}$/.test(guest.identity.user.name));
  assert.equal(devName('x'.repeat(100)).length, 32);
  assert.throws(() => createAuthenticator({}), /needs a JWT secret/);
});
