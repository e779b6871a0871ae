// hayate's own server, from the build (`dist/node/index.js`, so `npm run build` first; `npm run bench` does), attached
// to a plain http.Server exactly like the ws runner. Echo: every message sent back with its type. Broadcast: each
// message prepared once (`server.prepare(data, { binary })`: framed once, compressed once per deflate configuration)
// and the same prepared message sent to every connection. Any failure to load or run prints FAILED <reason>, which
// the orchestrator turns into a "hayate: failed (reason)" row.
import http from 'node:http';
import { deflate, fail, mode, port, ready } from './common.mjs';

let hayate;
try {
  hayate = await import('../../dist/node/index.js');
} catch (err) {
  fail(`cannot load dist/node/index.js (${err.message})`);
}
const { WebSocketServer } = hayate;
if (typeof WebSocketServer !== 'function') fail('dist/node/index.js exports no WebSocketServer');

try {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: deflate ? { threshold: 0 } : false });
  const connections = new Set();
  if (mode === 'broadcast' && typeof wss.prepare !== 'function') fail('WebSocketServer has no prepare()');
  wss.on('error', (err) => fail(`server error: ${err.message}`));
  wss.on('connection', (conn) => {
    conn.on('error', () => {});
    if (mode === 'broadcast') {
      connections.add(conn);
      conn.on('close', () => connections.delete(conn));
      conn.on('message', (data, isBinary) => {
        const prepared = wss.prepare(data, { binary: isBinary });
        for (const c of connections) c.send(prepared);
      });
    } else {
      conn.on('message', (data, isBinary) => conn.send(data, { binary: isBinary }));
    }
  });
  server.listen(port, '127.0.0.1', () => ready(server.address().port));
} catch (err) {
  fail(err);
}
