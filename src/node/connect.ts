// connect(): the Node client with ws's API. Opens a WebSocket connection (the same handshake as the WHATWG
// `WebSocket`, client.ts) and resolves with the transport `Connection`: events `message(data, isBinary)`,
// `close(code, reason)`, `ping`, `pong`, `error`, `drain`; `send()`, `ping()`, `close()`, `terminate()`.
//
// RFC 6455 §4.1 (the client's handshake) through client.ts. What it does not do: reconnect (the SDK does), or
// dispatch WHATWG events (websocket.ts does).
import type { HandshakeError } from '../protocol/index.js';
import { checkProtocols, parseWebSocketUrl, startHandshake, type ClientOptions } from './client.js';
import type { Connection } from './connection.js';

export type { ClientOptions, ClientTlsOptions } from './client.js';

/** ConnectOptions are `connect()`'s options: the client's Node options plus the subprotocols to offer. */
export interface ConnectOptions extends ClientOptions {
  /** Subprotocols to offer, in order of preference (default none). */
  protocols?: string | readonly string[];
  /** Aborts the opening handshake; the promise then rejects with a HandshakeError (default none). */
  signal?: AbortSignal;
}

/**
 * connect opens a WebSocket connection to `url` (`ws:`/`wss:`, or `http:`/`https:` mapped) and resolves with the
 * open `Connection` (its `protocol` and `extensions` say what was negotiated). Rejects with a SyntaxError DOMException
 * for a bad URL or subprotocol list, a TypeError for unsendable headers, and a `HandshakeError` when the handshake
 * fails: `status` and `headers` are set when the server answered (e.g. 401), `cause` holds a network error.
 * Defaults as `ClientOptions`: handshakeTimeout 10 000 ms, maxPayload 100 MiB, perMessageDeflate true. Reading starts
 * one macrotask after the promise resolves (overriding a `pause()` made before then): add the `message` listener
 * right after `await connect(...)`.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const parsed = parseWebSocketUrl(url);
    if (!(parsed instanceof URL)) {
      reject(new DOMException(parsed.error, 'SyntaxError'));
      return;
    }
    const protocols = options.protocols === undefined ? [] : typeof options.protocols === 'string' ? [options.protocols] : [...options.protocols];
    const problem = checkProtocols(protocols);
    if (problem !== null) {
      reject(new DOMException(problem, 'SyntaxError'));
      return;
    }
    const { signal } = options;
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => pending.abort('the opening handshake was aborted');
    const pending = startHandshake(parsed, protocols, options, (error: HandshakeError | null, result) => {
      signal?.removeEventListener('abort', onAbort);
      if (error !== null || result === null) {
        reject(error);
        return;
      }
      // Bytes that came in the same read as the 101 would be dispatched on the next tick, before the code awaiting
      // this promise has added its listeners. Reading waits one macrotask, by which time that code has run.
      const { connection } = result;
      connection.pause();
      resolve(connection);
      setImmediate(resumeConnection, connection);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function resumeConnection(connection: Connection): void {
  connection.resume();
}
