// The Socket interface: the little the realtime hub needs from one WebSocket connection. Our Node `Connection`
// (src/node) satisfies it structurally, so does the `ws` package's WebSocket, so does a test fake.
// It does not know frames, handshakes or compression: whoever wires the hub to a transport hands in `prepare`, the
// function that turns a payload into the transport's reusable, already-framed form.

/** Prepared is a payload already framed (and compressed where negotiated) once, to be written to many sockets. */
export type Prepared = object;

/** PrepareFunction frames `data` once for a broadcast; the hub writes the result to every recipient unchanged. */
export type PrepareFunction = (data: string | Uint8Array, options: { binary: boolean }) => string | Uint8Array | Prepared;

/** identityPrepare is a PrepareFunction that prepares nothing (for fakes and the `ws` package, which frames per send). */
export const identityPrepare: PrepareFunction = (data) => data;

/** Socket is one open WebSocket connection as the hub sees it. */
export interface Socket {
  /** send queues one message: a string (text), bytes (binary), or a value from the hub's PrepareFunction. */
  send(data: string | Uint8Array | Prepared): void;
  /** close starts the closing handshake with an application or RFC 6455 close code. */
  close(code?: number, reason?: string): void;
  /** terminate drops the connection at once, without a closing handshake. */
  terminate(): void;
  /** bufferedAmount is the number of bytes queued for sending and not yet written to the network. */
  readonly bufferedAmount: number;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  off(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}
