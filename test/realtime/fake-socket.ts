// A fake realtime Socket for hub unit tests: records what is sent, lets the test set bufferedAmount and feed messages.
import { EventEmitter } from 'node:events';
import type { Socket } from '../../src/realtime/socket.js';

export class FakeSocket extends EventEmitter implements Socket {
  readonly sent: unknown[] = [];
  bufferedAmount = 0;
  closeCode: number | undefined;
  closeReason: string | undefined;
  terminated = false;
  /** Emit 'close' right after close() (like a peer that answers the closing handshake at once). */
  autoClose = true;

  send(data: unknown): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.closeCode !== undefined) return;
    this.closeCode = code;
    this.closeReason = reason;
    if (this.autoClose) queueMicrotask(() => this.emit('close', code ?? 1005, Buffer.from(reason ?? '')));
  }

  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    queueMicrotask(() => this.emit('close', 1006, Buffer.alloc(0)));
  }

  /** Simulates a client text message. */
  text(message: unknown): void {
    this.emit('message', Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)), false);
  }

  binary(data: Uint8Array): void {
    this.emit('message', Buffer.from(data), true);
  }

  /** Parsed JSON of every text message sent so far. */
  json(): Array<Record<string, unknown> & { type: string }> {
    return this.sent.filter((d): d is string => typeof d === 'string').map((d) => JSON.parse(d));
  }

  ofType(type: string): Array<Record<string, unknown>> {
    return this.json().filter((m) => m.type === type);
  }

  clear(): void {
    this.sent.length = 0;
  }
}

/** settle lets pending promise chains and microtasks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
