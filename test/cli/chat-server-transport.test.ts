// The chat server's transport options: permessage-deflate broadcast, and TLS (wss://) with a throwaway certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Client, connect, startServer, token } from './helpers.js';

test('with permessage-deflate a broadcast reaches compressing and plain clients alike', async (t) => {
  const { url } = await startServer(t, { perMessageDeflate: true });
  const compressed = await connect(t, url, { token: await token('zip') });
  assert.match(compressed.ws.extensions, /permessage-deflate/);
  const plainWs = new WebSocket(url, { headers: { authorization: `Bearer ${await token('plain')}` }, perMessageDeflate: false });
  const plain = new Client(plainWs);
  t.after(() => plainWs.terminate());
  await plain.next('welcome');
  assert.equal(plainWs.extensions, '');
  for (const c of [compressed, plain]) await c.request({ type: 'join', room: 'r' }, 'j');
  const text = 'compress me '.repeat(200);
  await compressed.request({ type: 'chat', room: 'r', text }, 'c');
  for (const c of [compressed, plain]) assert.equal((await c.next('chat')).text, text);
});

test('by default the chat server negotiates permessage-deflate without context takeover in either direction', async (t) => {
  const { url } = await startServer(t, {});
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${await token('default-deflate')}` } });
  t.after(() => ws.terminate());
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    ws.once('upgrade', resolve);
    ws.once('error', reject);
  });
  const negotiated = String(response.headers['sec-websocket-extensions']);
  assert.match(negotiated, /^permessage-deflate/);
  assert.match(negotiated, /server_no_context_takeover/);
  assert.match(negotiated, /client_no_context_takeover/);
});

test('serves wss:// with a TLS certificate and key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hayate-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const { port } = await startServer(t, { tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) } });
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${await token('tls')}` }, rejectUnauthorized: false });
  const client = new Client(ws);
  t.after(() => ws.terminate());
  const welcome = await client.next('welcome');
  assert.deepEqual(welcome.user, { id: 'tls', name: 'tls' });
});

test('our own WHATWG WebSocket client talks to the chat server with the token in the subprotocol', async (t) => {
  const { WebSocket: OurWebSocket } = await import('../../src/node/websocket.js');
  const { url } = await startServer(t);
  const ws = new OurWebSocket(url, ['hayate.v1', `token.${await token('whatwg', { name: 'W' })}`]);
  t.after(() => ws.close());
  const received: Array<Record<string, unknown>> = [];
  const waitFor = (type: string) => new Promise<Record<string, unknown>>((resolve) => {
    const check = () => {
      const found = received.find((m) => m.type === type);
      if (found !== undefined) resolve(found);
      else setTimeout(check, 10);
    };
    check();
  });
  ws.addEventListener('message', (event) => received.push(JSON.parse(String((event as MessageEvent).data))));
  const welcome = await waitFor('welcome');
  assert.equal(ws.protocol, 'hayate.v1');
  assert.deepEqual(welcome.user, { id: 'whatwg', name: 'W' });
  ws.send(JSON.stringify({ type: 'join', room: 'r' }));
  ws.send(JSON.stringify({ type: 'chat', room: 'r', text: 'from our client' }));
  assert.equal((await waitFor('chat')).text, 'from our client');
});
