// Test helpers for the chat server: start one on port 0, sign tokens, and a small JSON client over the `ws` package
// that records every message and waits for the ones a test expects.
import type { TestContext } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { createChatServer, type ChatServer, type ChatServerOptions } from '../../src/cli/chat-server.js';

export const SECRET = 'test-secret-that-is-long-enough-for-hs256';

/** token signs an HS256 JWT for `sub` (with `name`), valid for `seconds` (negative: already expired). */
export async function token(sub: string, options: { name?: string; seconds?: number; secret?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ name: options.name ?? sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (options.seconds ?? 3600))
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

/** startServer starts a chat server on 127.0.0.1:0 and closes it after the test. */
export async function startServer(t: TestContext, options: ChatServerOptions = {}): Promise<{ server: ChatServer; port: number; url: string; http: string }> {
  const server = createChatServer({ port: 0, host: '127.0.0.1', auth: { secret: SECRET }, heartbeatMs: 0, ...options });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` };
}

type Json = Record<string, unknown> & { type: string };

/** Client is a recorded JSON WebSocket client. */
export class Client {
  readonly ws: WebSocket;
  readonly messages: Json[] = [];
  readonly binaries: Buffer[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.binaries.push(Buffer.from(data));
      else this.messages.push(JSON.parse(data.toString()) as Json);
      for (const w of this.#waiters) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of this.#waiters) w();
    }));
    ws.on('error', () => {});
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  ofType(type: string): Json[] {
    return this.messages.filter((m) => m.type === type);
  }

  /** until resolves once `predicate(messages)` holds (rejects after `ms`). */
  until(predicate: (messages: Json[]) => boolean, ms = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!predicate(this.messages)) return false;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
        return true;
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`));
      }, ms);
      this.#waiters.push(waiter);
      check();
    });
  }

  /** next resolves to the first message of `type` (at index >= `from`) satisfying `filter`. */
  async next(type: string, filter: (m: Json) => boolean = () => true, ms = 5000): Promise<Json> {
    let found: Json | undefined;
    await this.until((ms2) => (found = ms2.find((m) => m.type === type && filter(m))) !== undefined, ms, type);
    return found as Json;
  }

  /** request sends `message` with `id` and resolves to its ack (or error). */
  async request(message: Record<string, unknown>, id: string): Promise<Json> {
    this.send({ ...message, id });
    let reply: Json | undefined;
    await this.until((ms) => (reply = ms.find((m) => (m.type === 'ack' || m.type === 'error') && m.id === id)) !== undefined, 5000, `reply to ${id}`);
    return reply as Json;
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** connect opens a client and resolves once `welcome` arrived; rejects with the HTTP status when refused. */
export function connect(
  t: TestContext,
  url: string,
  options: { token?: string; via?: 'header' | 'protocol' | 'query'; headers?: Record<string, string>; protocols?: string[]; query?: string } = {},
): Promise<Client> {
  let target = url + (options.query ?? '');
  const headers: Record<string, string> = { ...options.headers };
  let protocols = options.protocols;
  if (options.token !== undefined) {
    const via = options.via ?? 'header';
    if (via === 'header') headers.authorization = `Bearer ${options.token}`;
    else if (via === 'protocol') protocols = ['hayate.v1', `token.${options.token}`];
    else target += `${target.includes('?') ? '&' : '?'}token=${encodeURIComponent(options.token)}`;
  }
  const ws = new WebSocket(target, protocols, { headers });
  const client = new Client(ws);
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
      response.resume();
      ws.terminate();
    });
    ws.on('error', reject);
    client.next('welcome').then(() => resolve(client), reject);
  });
}

/** metric reads one sample of a Prometheus text exposition (0 when absent). */
export function metric(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `) || (labels === '' && line.startsWith(`${name} `))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
