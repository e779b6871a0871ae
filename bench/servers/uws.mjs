// uWebSockets.js (C++), when it is installed: echo, and broadcast with its built-in pub/sub (every connection
// subscribes to "bench"; `app.publish` frames once and writes to all). It is optional: the authors do not publish it
// on npm, and the npm fork `uwebsockets.js@19.0.0` ships no binary (it depends on a GitHub tarball), so on a machine
// without it this runner prints `SKIP <reason>` and the orchestrator leaves the row out with that reason.
import { createRequire } from 'node:module';
import { deflate, fail, mode, port, ready } from './common.mjs';

let uws = null;
const require = createRequire(import.meta.url);
for (const name of ['uWebSockets.js', 'uws.js', 'uwebsockets.js']) {
  try {
    uws = require(name);
    break;
  } catch {
    uws = null;
  }
}
if (uws === null || typeof uws.App !== 'function') {
  process.stdout.write('SKIP uWebSockets.js is not installed (no npm package ships a binary for it)\n');
  process.exit(2);
}

try {
  const app = uws.App();
  app.ws('/*', {
    compression: deflate ? uws.SHARED_COMPRESSOR : uws.DISABLED,
    maxPayloadLength: 100 * 1024 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => {
      if (mode === 'broadcast') ws.subscribe('bench');
    },
    message: (ws, message, isBinary) => {
      if (mode === 'broadcast') app.publish('bench', message, isBinary, deflate);
      else ws.send(message, isBinary, deflate);
    },
  });
  app.listen('127.0.0.1', port, (token) => {
    if (!token) fail('uWebSockets.js could not listen');
    else ready(uws.us_socket_local_port(token));
  });
} catch (err) {
  fail(err);
}
