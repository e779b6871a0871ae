// A dev-mode chat server (src/cli/chat-server.ts) for the SDK's integration and browser tests, with a `kill` that
// drops every connection without a closing handshake (what clients see when the process dies) and a `restart` on the
// same port, optionally keeping the broker (history that outlives the process, like Redis) or losing it (a new epoch).
import type { TestContext } from 'node:test';
import { createChatServer, type ChatServer } from '../../src/cli/chat-server.js';
import { MemoryBroker } from '../../src/realtime/brokers/memory.js';

export interface ChatFixture {
  readonly port: number;
  readonly url: string;
  readonly httpUrl: string;
  server: ChatServer;
  broker: MemoryBroker;
  /** kill drops every WebSocket (clients see 1006) and closes the server. */
  kill(): Promise<void>;
  /** restart listens again on the same port; `keepHistory: false` starts a new broker (a new epoch). */
  restart(options?: { keepHistory?: boolean }): Promise<void>;
}

/** startChatServer starts a dev-mode chat server on 127.0.0.1 and closes it when `t` ends. */
export async function startChatServer(t: TestContext, options: { heartbeatMs?: number } = {}): Promise<ChatFixture> {
  let broker = new MemoryBroker();
  const make = (port: number): ChatServer =>
    createChatServer({
      port,
      host: '127.0.0.1',
      auth: { dev: true },
      broker,
      heartbeatMs: options.heartbeatMs ?? 30_000,
      shutdownDrainMs: 200,
      // Generous limits: the tests send bursts after reconnecting and must not be rate limited.
      limits: { connectionRate: { perSecond: 1000, burst: 1000 }, userRate: { perSecond: 1000, burst: 1000 } },
    });
  let server = make(0);
  const { port } = await server.listen();
  let running = true;
  const fixture: ChatFixture = {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}/`,
    server,
    broker,
    async kill() {
      if (!running) return;
      running = false;
      for (const conn of server.wss.clients) conn.terminate();
      await server.close();
    },
    async restart(opts = {}) {
      if (running) await fixture.kill();
      if (opts.keepHistory === false) broker = fixture.broker = new MemoryBroker();
      server = fixture.server = make(port);
      await server.listen();
      running = true;
    },
  };
  t.after(async () => {
    await fixture.kill();
    await broker.close();
  });
  return fixture;
}

/** waitFor polls `predicate` every 10 ms until it holds, or fails after `timeoutMs` with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
