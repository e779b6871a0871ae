// WHATWG parity: the same scenario scripts run against the same `ws` server with Chromium's WebSocket and with ours;
// the logs (event order, readyState at each event, codes, reasons, wasClean, data, bufferedAmount, thrown errors)
// must be identical. This pins our class to what a browser does, not to our reading of the standard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebSocket as WsSocket } from 'ws';
import { launchChromium } from '../helpers/chromium.js';
import { WebSocket } from '../../src/node/websocket.js';

// Each scenario is plain JavaScript run as `(WebSocket, base) => Promise<string[]>` in both worlds.
const scenarios: Record<string, string> = {
  'echo text and binary, then close with a code and reason': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/echo');
    ws.binaryType = 'arraybuffer';
    log.push('initial ' + ws.readyState + ' ' + JSON.stringify([ws.protocol, ws.extensions === '' ? '' : 'ext', ws.binaryType]));
    await new Promise((resolve) => {
      ws.onopen = () => { log.push('open ' + ws.readyState); ws.send('hello'); ws.send(new Uint8Array([1, 2, 3]).buffer); };
      let n = 0;
      ws.onmessage = (e) => {
        log.push('message ' + (typeof e.data === 'string' ? e.data : 'bytes ' + e.data.byteLength) + ' ' + (e.origin === base.replace('ws:', 'ws:')));
        if (++n === 2) { ws.close(4000, 'bye'); log.push('after close() ' + ws.readyState); }
      };
      ws.onerror = () => log.push('error ' + ws.readyState);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + e.reason + ' ' + e.wasClean); resolve(); };
    });
    return log;
  }`,
  'server rejects the handshake with 403': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/reject');
    await new Promise((resolve) => {
      ws.onopen = () => log.push('open');
      ws.onerror = (e) => log.push('error ' + ws.readyState + ' ' + e.type);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + JSON.stringify(e.reason) + ' ' + e.wasClean); resolve(); };
    });
    return log;
  }`,
  'close() while connecting': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/slow');
    try { ws.send('x'); } catch (e) { log.push('send threw ' + e.name); }
    ws.close();
    log.push('after close() ' + ws.readyState);
    await new Promise((resolve) => {
      ws.onopen = () => log.push('open');
      ws.onerror = () => log.push('error ' + ws.readyState);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + e.wasClean); resolve(); };
    });
    return log;
  }`,
  'server closes with a code and reason': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/server-close', ['a', 'b']);
    await new Promise((resolve) => {
      ws.onopen = () => log.push('open ' + ws.protocol);
      ws.onmessage = (e) => log.push('message ' + e.data + ' ' + ws.readyState);
      ws.onerror = () => log.push('error ' + ws.readyState);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + e.reason + ' ' + e.wasClean); resolve(); };
    });
    return log;
  }`,
  'send after close counts in bufferedAmount': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/echo');
    await new Promise((resolve) => { ws.onopen = resolve; });
    ws.close();
    ws.send('12345');
    ws.send(new Uint8Array(7));
    log.push('buffered ' + ws.bufferedAmount + ' state ' + ws.readyState);
    await new Promise((resolve) => { ws.onclose = (e) => { log.push('close ' + e.code + ' ' + e.wasClean); resolve(); }; });
    log.push('buffered after close ' + ws.bufferedAmount);
    return log;
  }`,
  'server drops TCP without a Close frame': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/terminate');
    await new Promise((resolve) => {
      ws.onopen = () => log.push('open');
      ws.onerror = () => log.push('error ' + ws.readyState);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + e.wasClean); resolve(); };
    });
    return log;
  }`,
  'server sends invalid UTF-8 in a text frame': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/bad-utf8');
    await new Promise((resolve) => {
      ws.onopen = () => log.push('open');
      ws.onmessage = (e) => log.push('message ' + e.data);
      ws.onerror = () => log.push('error ' + ws.readyState);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + e.wasClean); resolve(); };
    });
    return log;
  }`,
  'server selects a subprotocol that was not offered': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/bad-protocol', 'a');
    await new Promise((resolve) => {
      ws.onopen = () => log.push('open');
      ws.onerror = () => log.push('error ' + ws.readyState);
      ws.onclose = (e) => { log.push('close ' + ws.readyState + ' ' + e.code + ' ' + e.wasClean + ' ' + JSON.stringify(ws.protocol)); resolve(); };
    });
    return log;
  }`,
  'binary messages arrive as Blob by default': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/echo');
    await new Promise((resolve) => { ws.onopen = resolve; });
    ws.send(new Uint8Array([104, 105]));
    const event = await new Promise((resolve) => { ws.onmessage = resolve; });
    log.push(event.data.constructor.name + ' ' + event.data.size + ' ' + JSON.stringify(event.data.type));
    log.push(new TextDecoder().decode(await event.data.arrayBuffer()));
    ws.close();
    await new Promise((resolve) => { ws.onclose = resolve; });
    return log;
  }`,
  'close() without a code, and the URL attribute after http: mapping': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base.replace('ws:', 'http:') + '/echo?x=1');
    log.push(ws.url.replace(base, 'BASE'));
    await new Promise((resolve) => { ws.onopen = resolve; });
    ws.close();
    const event = await new Promise((resolve) => { ws.onclose = resolve; });
    log.push(event.code + ' ' + JSON.stringify(event.reason) + ' ' + event.wasClean + ' ' + event.constructor.name);
    return log;
  }`,
  'event handler attributes and listeners': `async (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(base + '/echo');
    log.push(String(ws.onopen));
    ws.onopen = () => log.push('first');
    ws.addEventListener('open', () => log.push('listener'));
    ws.onopen = () => log.push('second');
    ws.onclose = 'nope';
    log.push(String(ws.onclose));
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.close(3000, 'ünïcödé');
    const event = await new Promise((resolve) => ws.addEventListener('close', resolve));
    log.push(event.code + ' ' + event.reason);
    return log;
  }`,
  'argument errors': `async (WebSocket, base) => {
    const log = [];
    for (const args of [['ftp://x/'], [base + '/#f'], [base + '/echo', ['a', 'a']], [base + '/echo', 'a b']]) {
      try { new WebSocket(...args); log.push('no throw'); } catch (e) { log.push(e.name); }
    }
    const ws = new WebSocket(base + '/echo');
    await new Promise((resolve) => { ws.onopen = resolve; });
    for (const args of [[1001], [2999], [5000], [1000, 'x'.repeat(124)]]) {
      try { ws.close(...args); log.push('no throw'); } catch (e) { log.push(e.name); }
    }
    log.push('state ' + ws.readyState);
    ws.binaryType = 'nonsense';
    log.push('binaryType ' + ws.binaryType);
    ws.close(1000);
    await new Promise((resolve) => { ws.onclose = resolve; });
    return log;
  }`,
};

test('our WebSocket behaves as Chromium\'s in every scenario', async (t) => {
  const browser = await launchChromium(t);
  if (browser === null) return;
  t.after(() => browser.close());

  const { WebSocketServer } = await import('ws');
  const http = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>parity</title>'));
  const wss = new WebSocketServer({
    server: http,
    handleProtocols: (protocols, request) => (request.url === '/bad-protocol' ? 'zzz' : protocols.has('b') ? 'b' : false),
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void) => {
      if (info.req.url === '/reject') done(false, 403);
      else if (info.req.url === '/slow') setTimeout(() => done(false, 503), 300);
      else done(true);
    },
  });
  wss.on('connection', (socket: WsSocket, request: IncomingMessage) => {
    if (request.url === '/server-close') {
      socket.send('before close');
      socket.close(4001, 'server done');
    } else if (request.url === '/terminate') {
      socket.terminate();
    } else if (request.url === '/bad-utf8') {
      // A raw unmasked text frame holding the lone byte 0xff, written under ws's framing.
      (socket as unknown as { _socket: { write(bytes: Buffer): void } })._socket.write(Buffer.from([0x81, 0x01, 0xff]));
    } else {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    }
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  const port = (http.address() as AddressInfo).port;
  const base = `ws://127.0.0.1:${port}`;
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);

  for (const [name, source] of Object.entries(scenarios)) {
    await t.test(name, async () => {
      const inBrowser = (await page.evaluate(`(${source})(WebSocket, ${JSON.stringify(base)})`)) as string[];
      const scenario = new Function(`return (${source});`)() as (ctor: typeof WebSocket, base: string) => Promise<string[]>;
      const inNode = await scenario(WebSocket, base);
      assert.deepEqual(inNode, inBrowser);
    });
  }
});
