// The ws package (8.x, with bufferutil and utf-8-validate installed, as production users run it), attached to a
// plain http.Server. Echo: every message sent back with its type. Broadcast: every message sent to each client in a
// plain loop over `wss.clients` (ws frames, and compresses, once per recipient).
import http from 'node:http';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import { deflate, fail, mode, port, ready } from './common.mjs';

try {
  // production setups have the native helpers; refuse to measure ws without them
  createRequire(import.meta.url)('bufferutil');
  createRequire(import.meta.url)('utf-8-validate');
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: deflate ? { threshold: 0 } : false });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (mode === 'broadcast') {
      ws.on('message', (data, isBinary) => {
        for (const client of wss.clients) client.send(data, { binary: isBinary });
      });
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
  server.listen(port, '127.0.0.1', () => ready(server.address().port));
} catch (err) {
  fail(err);
}
