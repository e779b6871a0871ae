// Opening handshake rules, both sides (RFC 6455 §4.1, §4.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptKey,
  buildAcceptHeaders,
  buildAcceptResponse,
  buildClientRequestHeaders,
  buildHttpResponse,
  buildRejectResponse,
  generateKey,
  isValidKey,
  validateClientRequest,
  validateServerResponse,
  type HeaderMap,
} from '../../src/protocol/handshake.js';

test('acceptKey answers the RFC 6455 §1.3 sample key with its sample accept value', () => {
  assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('generateKey makes a fresh base64 16-byte nonce each time', () => {
  const keys = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const key = generateKey();
    assert.equal(Buffer.from(key, 'base64').length, 16);
    assert.equal(isValidKey(key), true);
    keys.add(key);
  }
  assert.equal(keys.size, 100);
});

const goodHeaders: HeaderMap = {
  host: 'example.com',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-version': '13',
};

function request(overrides: Record<string, string | string[] | undefined>, method = 'GET', httpVersion = '1.1') {
  const headers: Record<string, string | readonly string[] | undefined> = { ...goodHeaders };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return validateClientRequest({ method, httpVersion, headers });
}

test('validateClientRequest accepts a minimal valid request and returns its key and empty offers', () => {
  assert.deepEqual(request({}), { ok: true, key: 'dGhlIHNhbXBsZSBub25jZQ==', protocols: [], extensions: [] });
});

test('validateClientRequest returns offered subprotocols and parsed extension offers', () => {
  const result = request({
    'sec-websocket-protocol': 'chat, superchat',
    'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
  });
  assert.deepEqual(result, {
    ok: true,
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    protocols: ['chat', 'superchat'],
    extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
  });
});

const accepted: { name: string; overrides: Record<string, string | string[] | undefined>; method?: string; version?: string }[] = [
  { name: 'Upgrade in another case', overrides: { upgrade: 'WebSocket' } },
  { name: 'Connection listing keep-alive and upgrade', overrides: { connection: 'keep-alive, Upgrade' } },
  { name: 'Connection in lower case', overrides: { connection: 'upgrade' } },
  { name: 'HTTP/2.0 version string', overrides: {}, version: '2.0' },
  { name: 'HTTP/1.2', overrides: {}, version: '1.2' },
];
for (const c of accepted) {
  test(`validateClientRequest accepts ${c.name}`, () => {
    assert.equal(request(c.overrides, c.method, c.version).ok, true);
  });
}

const rejected: {
  name: string;
  overrides: Record<string, string | string[] | undefined>;
  method?: string;
  version?: string;
  status: number;
  headers?: Record<string, string>;
}[] = [
  { name: 'POST', overrides: {}, method: 'POST', status: 405, headers: { Allow: 'GET' } },
  { name: 'lowercase get', overrides: {}, method: 'get', status: 405, headers: { Allow: 'GET' } },
  { name: 'HTTP/1.0', overrides: {}, version: '1.0', status: 400 },
  { name: 'HTTP/0.9', overrides: {}, version: '0.9', status: 400 },
  { name: 'a garbage HTTP version', overrides: {}, version: 'x.y', status: 400 },
  { name: 'a missing Host', overrides: { host: undefined }, status: 400 },
  { name: 'an empty Host', overrides: { host: '' }, status: 400 },
  { name: 'a missing Upgrade', overrides: { upgrade: undefined }, status: 400 },
  { name: 'Upgrade: h2c', overrides: { upgrade: 'h2c' }, status: 400 },
  { name: 'Upgrade: websockets', overrides: { upgrade: 'websockets' }, status: 400 },
  { name: 'a missing Connection', overrides: { connection: undefined }, status: 400 },
  { name: 'Connection: keep-alive', overrides: { connection: 'keep-alive' }, status: 400 },
  { name: 'a missing key', overrides: { 'sec-websocket-key': undefined }, status: 400 },
  { name: 'a key of 15 bytes', overrides: { 'sec-websocket-key': Buffer.alloc(15).toString('base64') }, status: 400 },
  { name: 'a key of 17 bytes', overrides: { 'sec-websocket-key': Buffer.alloc(17).toString('base64') }, status: 400 },
  { name: 'a key that is not base64', overrides: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZ!==' }, status: 400 },
  { name: 'a key without padding', overrides: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ' }, status: 400 },
  { name: 'two keys', overrides: { 'sec-websocket-key': ['dGhlIHNhbXBsZSBub25jZQ==', 'dGhlIHNhbXBsZSBub25jZQ=='] }, status: 400 },
  { name: 'a missing version', overrides: { 'sec-websocket-version': undefined }, status: 426, headers: { 'Sec-WebSocket-Version': '13' } },
  { name: 'version 8', overrides: { 'sec-websocket-version': '8' }, status: 426, headers: { 'Sec-WebSocket-Version': '13' } },
  { name: 'version 14', overrides: { 'sec-websocket-version': '14' }, status: 426, headers: { 'Sec-WebSocket-Version': '13' } },
  { name: 'duplicate subprotocols', overrides: { 'sec-websocket-protocol': 'chat, chat' }, status: 400 },
  { name: 'a subprotocol that is not a token', overrides: { 'sec-websocket-protocol': 'ch at' }, status: 400 },
  { name: 'a malformed extension offer', overrides: { 'sec-websocket-extensions': 'permessage-deflate; =x' }, status: 400 },
  { name: 'an extension header of 1 MiB', overrides: { 'sec-websocket-extensions': 'a;'.repeat(1 << 19) }, status: 400 },
];
for (const c of rejected) {
  test(`validateClientRequest rejects ${c.name} with ${c.status}`, () => {
    const result = request(c.overrides, c.method, c.version);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.status, c.status);
    assert.deepEqual(result.headers, c.headers ?? {});
    assert.ok(result.reason.length > 0);
  });
}

test('buildAcceptResponse writes the RFC 6455 §1.3 sample response', () => {
  const bytes = buildAcceptResponse({ key: 'dGhlIHNhbXBsZSBub25jZQ==', protocol: 'chat' });
  assert.equal(
    bytes.toString('latin1'),
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n',
  );
});

test('buildAcceptHeaders adds extensions and extra headers after the handshake ones', () => {
  const lines = buildAcceptHeaders({
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    extensions: [{ name: 'permessage-deflate', params: [['server_no_context_takeover', true]] }],
    headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Count': 3 },
  });
  assert.deepEqual(lines, [
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover',
    'Set-Cookie: a=1',
    'Set-Cookie: b=2',
    'X-Count: 3',
  ]);
});

const injections: { name: string; build: () => unknown }[] = [
  { name: 'CRLF in an extra header value', build: () => buildAcceptHeaders({ key: 'k', headers: { 'X-A': 'a\r\nX-Evil: 1' } }) },
  { name: 'LF in an extra header value', build: () => buildAcceptHeaders({ key: 'k', headers: { 'X-A': 'a\nb' } }) },
  { name: 'a bad extra header name', build: () => buildAcceptHeaders({ key: 'k', headers: { 'X-A\r\nX-B': 'a' } }) },
  { name: 'CR in one of several values', build: () => buildAcceptHeaders({ key: 'k', headers: { 'Set-Cookie': ['a', 'b\r'] } }) },
  { name: 'CRLF in the subprotocol', build: () => buildAcceptHeaders({ key: 'k', protocol: 'chat\r\nX: 1' }) },
  { name: 'CRLF in the extensions value', build: () => buildAcceptHeaders({ key: 'k', extensions: 'a\r\nX: 1' }) },
  { name: 'an extra header redefining Sec-WebSocket-Accept', build: () => buildAcceptHeaders({ key: 'k', headers: { 'sec-websocket-accept': 'x' } }) },
  { name: 'CRLF in a reject body status text', build: () => buildHttpResponse({ status: 400, statusText: 'Bad\r\nX: 1' }) },
  { name: 'CRLF in a client header', build: () => buildClientRequestHeaders({ key: 'k', headers: { 'X-A': 'a\r\nb' } }) },
  { name: 'CRLF in the client origin', build: () => buildClientRequestHeaders({ key: 'k', origin: 'http://a\r\nX: 1' }) },
  { name: 'a client subprotocol that is not a token', build: () => buildClientRequestHeaders({ key: 'k', protocols: ['a b'] }) },
  { name: 'duplicate client subprotocols', build: () => buildClientRequestHeaders({ key: 'k', protocols: ['a', 'a'] }) },
];
for (const c of injections) {
  test(`header building throws a TypeError on ${c.name}`, () => {
    assert.throws(c.build, TypeError);
  });
}

test('buildRejectResponse writes status, headers, Connection: close and the reason as body', () => {
  const text = buildRejectResponse({ status: 426, headers: { 'Sec-WebSocket-Version': '13' }, reason: 'unsupported' }).toString();
  assert.equal(
    text,
    'HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nunsupported',
  );
});

test('buildClientRequestHeaders sends the handshake headers, which win over same-named extra headers', () => {
  const headers = buildClientRequestHeaders({
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    protocols: ['chat', 'superchat'],
    extensions: 'permessage-deflate; client_max_window_bits',
    origin: 'http://example.com',
    headers: { upgrade: 'h2c', Authorization: 'Bearer x', origin: 'http://other' },
  });
  assert.deepEqual(headers, {
    Authorization: 'Bearer x',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Protocol': 'chat, superchat',
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    Origin: 'http://example.com',
  });
});

const key = 'dGhlIHNhbXBsZSBub25jZQ==';
const goodResponse: HeaderMap = {
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
};
const pmd = [{ name: 'permessage-deflate', params: [] as [string, string | true][] }];

function response(overrides: Record<string, string | string[] | undefined>, statusCode = 101, protocols?: string[]) {
  const headers: Record<string, string | readonly string[] | undefined> = { ...goodResponse };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return validateServerResponse({ statusCode, headers }, { key, protocols: protocols ?? ['chat', 'superchat'], extensionOffers: pmd });
}

test('validateServerResponse accepts a valid response without subprotocol or extensions', () => {
  assert.deepEqual(response({}), { ok: true, protocol: '', extensions: [], extensionsHeader: '' });
});

test('validateServerResponse returns the selected subprotocol and accepted extension', () => {
  const result = response({
    'sec-websocket-protocol': 'superchat',
    'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
    upgrade: 'WebSocket',
    connection: 'keep-alive, upgrade',
  });
  assert.deepEqual(result, {
    ok: true,
    protocol: 'superchat',
    extensions: [{ name: 'permessage-deflate', params: [['server_no_context_takeover', true]] }],
    extensionsHeader: 'permessage-deflate; server_no_context_takeover',
  });
});

const badResponses: { name: string; overrides: Record<string, string | string[] | undefined>; status?: number; protocols?: string[] }[] = [
  { name: 'status 200', overrides: {}, status: 200 },
  { name: 'status 401', overrides: {}, status: 401 },
  { name: 'a missing Upgrade', overrides: { upgrade: undefined } },
  { name: 'Upgrade: h2c', overrides: { upgrade: 'h2c' } },
  { name: 'a missing Connection', overrides: { connection: undefined } },
  { name: 'Connection: close', overrides: { connection: 'close' } },
  { name: 'a missing accept', overrides: { 'sec-websocket-accept': undefined } },
  { name: 'a wrong accept', overrides: { 'sec-websocket-accept': acceptKey('AAAAAAAAAAAAAAAAAAAAAA==') } },
  { name: 'two accept values', overrides: { 'sec-websocket-accept': ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'x'] } },
  { name: 'an unoffered subprotocol', overrides: { 'sec-websocket-protocol': 'other' } },
  { name: 'a subprotocol when none was offered', overrides: { 'sec-websocket-protocol': 'chat' }, protocols: [] },
  { name: 'two subprotocols', overrides: { 'sec-websocket-protocol': 'chat, superchat' } },
  { name: 'a subprotocol differing in case', overrides: { 'sec-websocket-protocol': 'CHAT' } },
  { name: 'an unoffered extension', overrides: { 'sec-websocket-extensions': 'x-webkit-deflate-frame' } },
  { name: 'an extension accepted twice', overrides: { 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' } },
  { name: 'a malformed extension header', overrides: { 'sec-websocket-extensions': 'permessage-deflate;' } },
];
for (const c of badResponses) {
  test(`validateServerResponse fails the connection on ${c.name}`, () => {
    const result = response(c.overrides, c.status, c.protocols);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.status, c.status ?? 101);
      assert.ok(result.reason.length > 0);
    }
  });
}

test('validateServerResponse rejects an extension response when none was offered', () => {
  const result = validateServerResponse(
    { statusCode: 101, headers: { ...goodResponse, 'sec-websocket-extensions': 'permessage-deflate' } },
    { key },
  );
  assert.equal(result.ok, false);
});
