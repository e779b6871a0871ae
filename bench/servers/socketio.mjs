// Socket.IO 4 (websocket transport only, so no HTTP long-polling upgrade dance) with rooms, the way chat apps use it:
// every connection joins room "bench"; a `chat` event from anyone is emitted to the room (`io.to(room).emit`, which
// encodes the packet once and writes it to each member's Engine.IO socket). Broadcast scenario only; in echo mode a
// `chat` event is emitted back to its sender. The load generator speaks Engine.IO v4 over raw frames (see
// ../load/broadcast.mjs).
import http from 'node:http';
import { Server } from 'socket.io';
import { fail, mode, port, ready } from './common.mjs';

try {
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.join('bench');
    if (mode === 'broadcast') socket.on('chat', (msg) => io.to('bench').emit('chat', msg));
    else socket.on('chat', (msg) => socket.emit('chat', msg));
  });
  server.listen(port, '127.0.0.1', () => ready(server.address().port));
} catch (err) {
  fail(err);
}
