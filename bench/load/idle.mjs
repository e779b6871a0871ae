// Idle load: opens `connections` WebSocket connections (handshake only, no messages), reports how long that took,
// then holds them open until the orchestrator has measured the server's memory (see run.mjs).
//
// Options (JSON argv): port, path, connections, concurrency, deflate.
import { holdUntilReleased, newScanState, openConnections, parseOptions, report, scanFrames } from './ws-client.mjs';

const o = parseOptions();
const started = performance.now();
const states = [];
const sockets = await openConnections({
  port: o.port,
  path: o.path,
  count: o.connections ?? 10000,
  concurrency: o.concurrency ?? 200,
  deflate: !!o.deflate,
  onOpen(socket, index) {
    const st = newScanState();
    states[index] = st;
    socket.on('error', () => {});
    return (buf, start, end) => scanFrames(st, buf, start, end);
  },
});
// let the server settle whatever the last handshakes started
await new Promise((r) => setTimeout(r, 500));
report({
  connections: sockets.length,
  connectMs: performance.now() - started,
  closedByServer: states.filter((st) => st.closed).length,
});
await holdUntilReleased();
for (const s of sockets) s.destroy();
process.exit(0);
