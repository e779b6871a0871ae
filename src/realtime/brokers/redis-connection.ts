// RedisConnection: a minimal Redis client (RESP2 over node:net) for the Redis broker: pipelined commands answered in
// order, and subscriber mode where `message` pushes are dispatched to a handler. Bulk replies come back as Buffers.
// It deliberately does not reconnect, speak RESP3, TLS, cluster or sentinel: a lost connection fails every pending
// and later command, and the broker reports that (see docs/brokers.md). No third-party Redis client is installed.
import { connect, type Socket } from 'node:net';

/** RedisReply is a decoded RESP2 reply. */
export type RedisReply = string | number | Buffer | null | RedisError | RedisReply[];

/** RedisError is an error reply from the server (`-ERR ...`), returned inside arrays and thrown for top-level replies. */
export class RedisError extends Error {
  override name = 'RedisError';
}

type Pending = { resolve: (reply: RedisReply) => void; reject: (error: Error) => void };

const CRLF = Buffer.from('\r\n');

/** encodeCommand builds the RESP array of bulk strings for one command. */
export function encodeCommand(args: ReadonlyArray<string | number | Buffer | Uint8Array>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : typeof arg === 'number' ? Buffer.from(String(arg)) : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** RespParser decodes RESP2 replies from a byte stream fed in arbitrary chunks. */
export class RespParser {
  #buffer: Buffer = Buffer.alloc(0);
  #offset = 0;

  /** push adds bytes and returns every reply now complete. */
  push(chunk: Buffer): RedisReply[] {
    this.#buffer = this.#offset < this.#buffer.length ? Buffer.concat([this.#buffer.subarray(this.#offset), chunk]) : chunk;
    this.#offset = 0;
    const replies: RedisReply[] = [];
    while (this.#offset < this.#buffer.length) {
      const start = this.#offset;
      const reply = this.#parse();
      if (reply === undefined) {
        this.#offset = start;
        break;
      }
      replies.push(reply);
    }
    return replies;
  }

  #line(): string | undefined {
    const end = this.#buffer.indexOf(CRLF, this.#offset);
    if (end < 0) return undefined;
    const line = this.#buffer.toString('utf8', this.#offset + 1, end);
    this.#offset = end + 2;
    return line;
  }

  #parse(): RedisReply | undefined {
    const type = this.#buffer[this.#offset];
    const line = this.#line();
    if (line === undefined) return undefined;
    switch (type) {
      case 0x2b: // '+'
        return line;
      case 0x2d: // '-'
        return new RedisError(line);
      case 0x3a: // ':'
        return Number(line);
      case 0x24: { // '$'
        const length = Number(line);
        if (length < 0) return null;
        if (this.#buffer.length < this.#offset + length + 2) return undefined;
        const value = Buffer.from(this.#buffer.subarray(this.#offset, this.#offset + length));
        this.#offset += length + 2;
        return value;
      }
      case 0x2a: { // '*'
        const count = Number(line);
        if (count < 0) return null;
        const items: RedisReply[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.#parse();
          if (item === undefined) return undefined;
          items.push(item);
        }
        return items;
      }
      default:
        throw new RedisError(`unexpected RESP type byte ${type}`);
    }
  }
}

/** RedisConnection is one TCP connection to Redis with a FIFO of pending commands. */
export class RedisConnection {
  readonly #socket: Socket;
  readonly #parser = new RespParser();
  readonly #pending: Pending[] = [];
  #failure: Error | null = null;
  /** Called for every `message` push in subscriber mode: (channel, payload). */
  onMessage: ((channel: string, payload: Buffer) => void) | null = null;
  /** Called once when the connection is lost or fails. */
  onError: ((error: Error) => void) | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (error: Error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('Redis connection closed')));
  }

  /** open connects to `redis://host:port[/db]` and resolves once connected (and the db selected). */
  static open(url: string): Promise<RedisConnection> {
    const parsed = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(parsed.port || 6379), parsed.hostname || '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const connection = new RedisConnection(socket);
        const setup: Promise<unknown>[] = [];
        if (parsed.password !== '') {
          const user = decodeURIComponent(parsed.username);
          const password = decodeURIComponent(parsed.password);
          setup.push(connection.command(user !== '' ? ['AUTH', user, password] : ['AUTH', password]));
        }
        const db = parsed.pathname.replace(/^\//, '');
        if (db !== '') setup.push(connection.command(['SELECT', db]));
        Promise.all(setup).then(() => resolve(connection), (error: Error) => {
          connection.close();
          reject(error);
        });
      });
    });
  }

  /** command sends one command and resolves to its reply (rejects on an error reply or a lost connection). */
  command(args: ReadonlyArray<string | number | Buffer | Uint8Array>): Promise<RedisReply> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(encodeCommand(args));
    });
  }

  /** close ends the connection; pending commands fail. */
  close(): void {
    this.#fail(new Error('Redis connection closed by the client'));
    this.#socket.destroy();
  }

  #data(chunk: Buffer): void {
    let replies: RedisReply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.destroy();
      return;
    }
    for (const reply of replies) {
      if (Array.isArray(reply) && reply.length === 3 && Buffer.isBuffer(reply[0]) && reply[0].toString() === 'message' && this.onMessage !== null) {
        this.onMessage((reply[1] as Buffer).toString(), reply[2] as Buffer);
        continue;
      }
      const pending = this.#pending.shift();
      if (pending === undefined) continue;
      if (reply instanceof RedisError) pending.reject(reply);
      else pending.resolve(reply);
    }
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    for (const pending of this.#pending.splice(0)) pending.reject(error);
    this.onError?.(error);
  }
}
