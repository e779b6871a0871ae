// Property tests for the sans-I/O core (fast-check, seeded and bounded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WebSocketProtocol, prepareMessage } from '../../src/protocol/index.js';
import type { ProtocolEvent, Role } from '../../src/protocol/index.js';

type Item =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'fragmented'; binary: boolean; parts: Uint8Array[] }
  | { kind: 'ping'; data: Uint8Array };

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'grapheme', maxLength: 300 }) }),
  fc.record({ kind: fc.constant('binary' as const), data: fc.uint8Array({ maxLength: 70_000, size: 'max' }) }),
  fc.record({ kind: fc.constant('fragmented' as const), binary: fc.boolean(), parts: fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('ping' as const), data: fc.uint8Array({ maxLength: 125 }) }),
);

/** Splits `bytes` at the given fractions into fresh chunks. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(Buffer.from(bytes.subarray(start, p)));
    start = p;
  }
  chunks.push(Buffer.from(bytes.subarray(start)));
  return chunks;
}

test('random messages sent by a client, randomly chunked, reach a server unchanged', () => {
  fc.assert(
    fc.property(fc.array(item, { maxLength: 12 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }), (items, cuts) => {
      const client = new WebSocketProtocol({ role: 'client' });
      const expected: unknown[] = [];
      for (const it of items) {
        if (it.kind === 'text') {
          client.sendText(it.text);
          expected.push(['message', false, Buffer.from(it.text).toString('hex')]);
        } else if (it.kind === 'binary') {
          client.sendBinary(it.data);
          expected.push(['message', true, Buffer.from(it.data).toString('hex')]);
        } else if (it.kind === 'ping') {
          client.ping(Buffer.from(it.data));
          expected.push(['ping', Buffer.from(it.data).toString('hex')]);
        } else {
          // Fragments of a text message are cut from valid UTF-8 at arbitrary byte positions.
          const whole = it.binary ? Buffer.concat(it.parts) : Buffer.from(Buffer.concat(it.parts).toString('utf8'));
          const sizes = it.parts.map((p) => p.length);
          let at = 0;
          sizes.forEach((size, i) => {
            const last = i === sizes.length - 1;
            const end = last ? whole.length : Math.min(whole.length, at + size);
            client.sendFragment(it.binary ? 'binary' : 'text', Buffer.from(whole.subarray(at, end)), last);
            at = end;
          });
          expected.push(['message', it.binary, whole.toString('hex')]);
        }
      }
      const server = new WebSocketProtocol({ role: 'server' });
      const events: ProtocolEvent[] = [];
      for (const c of chunk(Buffer.concat(client.takeOutgoing()), cuts)) {
        server.receive(c);
        events.push(...server.takeEvents());
      }
      const got = events.map((e) => (e.type === 'message' ? ['message', e.binary, e.data.toString('hex')] : e.type === 'ping' ? ['ping', e.data.toString('hex')] : [e.type]));
      assert.deepEqual(got, expected);
      assert.equal(server.failure, null);
    }),
    { seed: 6455, numRuns: 150 },
  );
});

test('random garbage never throws: it yields events, then at most one error as the last event', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<Role>('server', 'client'),
      fc.uint8Array({ maxLength: 600 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
      fc.integer({ min: 0, max: 2000 }),
      (role, bytes, cuts, maxPayload) => {
        const protocol = new WebSocketProtocol({ role, maxPayload });
        const events: ProtocolEvent[] = [];
        for (const c of chunk(Buffer.from(bytes), cuts)) {
          protocol.receive(c);
          events.push(...protocol.takeEvents());
          protocol.takeOutgoing();
        }
        const errors = events.filter((e) => e.type === 'error');
        assert.ok(errors.length <= 1);
        if (errors.length === 1) {
          assert.equal(events.at(-1), errors[0]);
          assert.equal(protocol.closeExpected(), true);
          assert.ok([1002, 1007, 1009].includes(protocol.failure?.closeCode ?? 0));
        }
        for (const e of events) if (e.type === 'message' && !e.binary) assert.ok(Buffer.from(e.data.toString('utf8')).equals(e.data));
      },
    ),
    { seed: 1337, numRuns: 3000 },
  );
});

test('garbage after a valid prefix, split the same way, gives the same events for every chunking', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }), (tail, cuts) => {
      const client = new WebSocketProtocol({ role: 'client' });
      client.sendText('prefix');
      client.ping(Buffer.from('p'));
      const bytes = Buffer.concat([...client.takeOutgoing(), Buffer.from(tail)]);
      const run = (chunks: Buffer[]): unknown[] => {
        const server = new WebSocketProtocol({ role: 'server', maxPayload: 1000 });
        const events: unknown[] = [];
        for (const c of chunks) {
          server.receive(c);
          for (const e of server.takeEvents()) events.push(e.type === 'error' ? ['error', e.error.code] : e.type === 'message' || e.type === 'ping' || e.type === 'pong' ? [e.type, e.data.toString('hex')] : [e.type, e.code, e.reason]);
        }
        return events;
      };
      assert.deepEqual(run(chunk(bytes, cuts)), run([Buffer.from(bytes)]));
    }),
    { seed: 7692, numRuns: 1000 },
  );
});

test('random messages sent by a server (plain and prepared), then a close, reach a client unchanged', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 20_000 }))), { maxLength: 10 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
      fc.integer({ min: 3000, max: 4999 }),
      (items, cuts, code) => {
        const server = new WebSocketProtocol({ role: 'server' });
        const expected: unknown[] = [];
        for (const [prepared, data] of items) {
          const binary = typeof data !== 'string';
          const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
          if (prepared) server.sendFrame(prepareMessage(typeof data === 'string' ? data : bytes, { binary }));
          else if (binary) server.sendBinary(bytes);
          else server.sendText(data);
          expected.push(['message', binary, bytes.toString('hex')]);
        }
        server.close(code, 'fuzz');
        expected.push(['close', code, 'fuzz']);
        const client = new WebSocketProtocol({ role: 'client' });
        const events: ProtocolEvent[] = [];
        for (const c of chunk(Buffer.concat(server.takeOutgoing()), cuts)) {
          client.receive(c);
          events.push(...client.takeEvents());
        }
        const got = events.map((e) => (e.type === 'message' ? ['message', e.binary, e.data.toString('hex')] : e.type === 'close' ? ['close', e.code, e.reason] : [e.type]));
        assert.deepEqual(got, expected);
        // The client's answer completes the exchange on the server, which then expects TCP to close.
        for (const c of client.takeOutgoing()) server.receive(c);
        assert.deepEqual(server.takeEvents().map((e) => e.type), ['close']);
        assert.equal(server.closeExpected(), true);
        assert.equal(client.closeExpected(), false);
      },
    ),
    { seed: 2026, numRuns: 150 },
  );
});

test('fragmented messages with parts of up to 6 KiB (unmasked straight into a growing buffer), randomly chunked, reach a server unchanged', () => {
  const message = fc.record({ binary: fc.boolean(), parts: fc.array(fc.uint8Array({ maxLength: 6000, size: 'max' }), { minLength: 1, maxLength: 6 }) });
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (messages, cuts) => {
      const client = new WebSocketProtocol({ role: 'client' });
      const expected: unknown[] = [];
      for (const m of messages) {
        // Text fragments are cut from valid UTF-8 at arbitrary byte positions, so characters span fragments.
        const whole = m.binary ? Buffer.concat(m.parts) : Buffer.from(Buffer.concat(m.parts).toString('utf8'));
        let at = 0;
        m.parts.forEach((part, i) => {
          const end = i === m.parts.length - 1 ? whole.length : Math.min(whole.length, at + part.length);
          client.sendFragment(m.binary ? 'binary' : 'text', Buffer.from(whole.subarray(at, end)), i === m.parts.length - 1);
          at = end;
        });
        expected.push([m.binary, whole.toString('hex')]);
      }
      const server = new WebSocketProtocol({ role: 'server' });
      const got: unknown[] = [];
      for (const c of chunk(Buffer.concat(client.takeOutgoing()), cuts)) {
        server.receive(c);
        for (const e of server.takeEvents()) if (e.type === 'message') got.push([e.binary, e.data.toString('hex')]);
      }
      assert.deepEqual(got, expected);
      assert.equal(server.failure, null);
    }),
    { seed: 7692, numRuns: 60 },
  );
});
