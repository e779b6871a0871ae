// MessageStream: a Node `Writable` that sends ONE WebSocket message as fragments, one data frame per written chunk
// (RFC 6455 §5.4 "Fragmentation": "The primary purpose of fragmentation is to allow sending a message that is of
// unknown size when the message is started without having to buffer that message."). Made by
// `Connection.createMessageStream()`.
//
// Backpressure: a chunk's write callback runs once the socket took its frame, so a slow reader stops the stream (and a
// `pipeline()` from a Readable) instead of growing memory. `end()` sends the final frame (FIN, empty payload).
//
// What it does not do: frame, compress or queue bytes itself (the connection's core does), or let other messages
// interleave (the connection holds sends made while a stream is open until it ends).
import type { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { InvalidStateError } from '../protocol/index.js';

/** MessageStreamOptions configures `Connection.createMessageStream()`. */
export interface MessageStreamOptions {
  /** Send a binary message; default `true`. `false` sends text: the chunks together must be valid UTF-8. */
  binary?: boolean;
  /** The Writable's highWaterMark in bytes; default 65 536. */
  highWaterMark?: number;
}

/** MessageSink is what a MessageStream needs from its connection (internal to the Node layer). */
export interface MessageSink {
  /** The connection, whose `close` event ends the stream with an error. */
  readonly events: EventEmitter;
  /** fragment queues one frame of the message; `cb` runs once the socket took it, or with the error. */
  fragment(data: Buffer, fin: boolean, cb: (err?: Error) => void): void;
  /** release ends the stream's hold on the connection; `aborted`: the message was not finished. */
  release(aborted: boolean): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * MessageStream is a Writable for one message: each chunk is sent as a fragment, `end()` finishes the message with a
 * FIN frame. It errors with `InvalidStateError` when the connection closes before the message is sent; destroying it
 * before `end()` closes the connection with 1011, since a started message cannot be withdrawn.
 */
export class MessageStream extends Writable {
  #sink: MessageSink;
  #released = false;
  #onConnectionClose = (): void => {
    this.destroy(new InvalidStateError('the connection closed before the message was sent'));
  };

  /** MessageStream streams one message through `sink` (made by the connection, not by applications). */
  constructor(sink: MessageSink, options: MessageStreamOptions = {}) {
    super({ highWaterMark: options.highWaterMark ?? 64 * 1024, decodeStrings: true });
    this.#sink = sink;
    sink.events.once('close', this.#onConnectionClose);
  }

  /** _write sends one chunk as one fragment (Writable internals). */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length === 0) {
      callback();
      return;
    }
    this.#sink.fragment(chunk, false, (err) => callback(err ?? null));
  }

  /** _final sends the message's last frame: FIN with no payload (Writable internals). */
  override _final(callback: (error?: Error | null) => void): void {
    this.#sink.fragment(EMPTY, true, (err) => callback(err ?? null));
    // The FIN frame is queued: messages held back while the stream was open may follow it now.
    this.#release(false);
  }

  /** _destroy releases the connection; before `end()` the unfinished message closes it with 1011. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#release(true);
    callback(error);
  }

  #release(aborted: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.#sink.events.removeListener('close', this.#onConnectionClose);
    this.#sink.release(aborted);
  }
}
