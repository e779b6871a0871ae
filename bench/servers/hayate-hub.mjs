// hayate's realtime hub, the product's room broadcast: the chat server composition from the build
// (`dist/cli/chat-server.js`: our WebSocketServer, the Hub over the in-memory broker, prepared broadcasts) in dev mode,
// so that the load generator's connections are anonymous members named by `?name=`. All of them use one name, so
// they are one user with many connections: joining sends no presence event to the room (only a user's first
// connection does), and the benchmark measures the broadcast path, not 10,000 presence fan-outs. Limits per user and
// per IP are raised for the same reason (every benchmark connection comes from 127.0.0.1); rate limits stay far
// above the 10 messages a second the control connection sends.
import { deflate, fail, port, ready } from './common.mjs';

let chat;
try {
  chat = await import('../../dist/cli/chat-server.js');
} catch (err) {
  fail(`cannot load dist/cli/chat-server.js (${err.message})`);
}
if (typeof chat.createChatServer !== 'function') fail('dist/cli/chat-server.js exports no createChatServer');

try {
  const server = chat.createChatServer({
    port,
    host: '127.0.0.1',
    path: '/ws',
    auth: { dev: true },
    perMessageDeflate: deflate,
    limits: {
      maxConnectionsPerUser: 1_000_000,
      maxConnectionsPerIp: 1_000_000,
      connectionRate: { perSecond: 10_000, burst: 10_000 },
      userRate: { perSecond: 10_000, burst: 10_000 },
    },
  });
  const { port: actual } = await server.listen();
  ready(actual);
} catch (err) {
  fail(err);
}
