/**
 * Test harness for the sans-I/O core: feed chunks to a fresh `WebSocketProtocol`, collect events and outgoing bytes.
 */
import { WebSocketProtocol } from '../../src/protocol/index.js';
import type { ProtocolEvent, ProtocolOptions } from '../../src/protocol/index.js';

/** Fed is what one run through the core produced. */
export interface Fed {
  protocol: WebSocketProtocol;
  events: ProtocolEvent[];
  out: Buffer;
}

/** feed gives `chunks` one by one to a new protocol with `options` and returns the events and the bytes written. */
export function feed(chunks: Buffer[], options: ProtocolOptions): Fed {
  const protocol = new WebSocketProtocol(options);
  const events: ProtocolEvent[] = [];
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    protocol.receive(chunk);
    events.push(...protocol.takeEvents());
    out.push(...protocol.takeOutgoing());
  }
  return { protocol, events, out: Buffer.concat(out) };
}

/** A fixed masking key source (the RFC 6455 §5.7 examples use 37 fa 21 3d). */
export function fixedMask(key: number[]): (target: Buffer) => void {
  return (target) => {
    target[0] = key[0];
    target[1] = key[1];
    target[2] = key[2];
    target[3] = key[3];
  };
}

/** summarize reduces events to comparable plain values (data as hex). */
export function summarize(events: ProtocolEvent[]): unknown[] {
  return events.map((event) => {
    switch (event.type) {
      case 'message':
        return { type: 'message', binary: event.binary, data: event.data.toString('hex') };
      case 'ping':
      case 'pong':
        return { type: event.type, data: event.data.toString('hex') };
      case 'close':
        return { type: 'close', code: event.code, reason: event.reason };
      case 'error':
        return { type: 'error', code: event.error.code, closeCode: event.error.closeCode };
    }
  });
}
