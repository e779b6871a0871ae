// Properties of the permessage-deflate codec (fast-check, seeded and bounded): any negotiated configuration carries any
// sequence of messages, whole or split into any fragments, unchanged in both directions; and arbitrary or damaged
// compressed input never throws, never returns more than the limit, and leaves the shared contexts usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { acceptPerMessageDeflateResponse, negotiatePerMessageDeflate, perMessageDeflateOffer } from '../../src/protocol/deflate-params.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { PerMessageDeflate } from '../../src/protocol/permessage-deflate.js';

const windowBits = fc.option(fc.integer({ min: 8, max: 15 }), { nil: undefined });
const flag = fc.option(fc.constant(true), { nil: undefined });
const options = fc.record({
  serverNoContextTakeover: flag,
  clientNoContextTakeover: flag,
  serverMaxWindowBits: windowBits,
  clientMaxWindowBits: windowBits,
  threshold: fc.constantFrom(0, 64),
  zlibDeflateOptions: fc.record({ level: fc.integer({ min: 0, max: 9 }), memLevel: fc.integer({ min: 1, max: 9 }) }),
});

/** Messages with repetition (so back-references and the window matter), text-like or binary. */
const message = fc.oneof(
  fc.string({ maxLength: 300 }).map((s) => Buffer.from(s.repeat(1 + (s.length % 5)))),
  fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
  fc.constantFrom('', 'a', 'Hello').map((s) => Buffer.from(s)),
);
/** A message and where to cut it into fragments (empty list: sent whole). */
const outgoing = fc.record({ data: message, cuts: fc.array(fc.nat({ max: 2000 }), { maxLength: 4 }) });

function send(sender: PerMessageDeflate, data: Buffer, cuts: number[]): { frames: Buffer[]; compressed: boolean } {
  if (cuts.length === 0) {
    const whole = sender.compress(data);
    return whole === null ? { frames: [data], compressed: false } : { frames: [whole], compressed: true };
  }
  const points = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
  const frames: Buffer[] = [];
  const bounds = [...points, data.length];
  let start = 0;
  bounds.forEach((point, i) => {
    frames.push(sender.compressFragment(data.subarray(start, point), i === bounds.length - 1));
    start = point;
  });
  return { frames, compressed: true };
}

function receive(receiver: PerMessageDeflate, frames: Buffer[], compressed: boolean): Buffer {
  if (!compressed) return frames[0];
  const out: Buffer[] = [];
  let budget = 1 << 20;
  frames.forEach((frame, i) => {
    const inflated = receiver.decompress(frame, i === frames.length - 1, budget);
    if (inflated instanceof ProtocolError) assert.fail(`${inflated.code}: ${inflated.message}`);
    budget -= inflated.length;
    out.push(inflated);
  });
  return Buffer.concat(out);
}

test('any negotiated configuration carries any messages, whole or fragmented, unchanged both ways', () => {
  fc.assert(
    fc.property(options, fc.array(fc.tuple(outgoing, fc.boolean()), { minLength: 1, maxLength: 8 }), (opts, conversation) => {
      const negotiated = negotiatePerMessageDeflate(perMessageDeflateOffer(opts), opts);
      assert.ok(negotiated !== null);
      const accepted = acceptPerMessageDeflateResponse(negotiated.response, opts);
      assert.ok('extension' in accepted && accepted.extension !== null);
      const server = negotiated.extension;
      const client = accepted.extension;
      try {
        for (const [{ data, cuts }, fromClient] of conversation) {
          const [sender, receiver] = fromClient ? [client, server] : [server, client];
          const { frames, compressed } = send(sender, data, cuts);
          assert.deepEqual(receive(receiver, frames, compressed), data);
        }
      } finally {
        server.release();
        client.release();
      }
    }),
    { seed: 7692, numRuns: 150 },
  );
});

test('arbitrary and damaged compressed input never throws, never passes the limit, and spares other connections', () => {
  const victim = new PerMessageDeflate({
    role: 'server',
    responseHeader: 'permessage-deflate; client_no_context_takeover',
    serverNoContextTakeover: false,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  const bystander = new PerMessageDeflate({
    role: 'server',
    responseHeader: 'permessage-deflate; client_no_context_takeover',
    serverNoContextTakeover: false,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  const sender = new PerMessageDeflate({
    role: 'client',
    responseHeader: 'permessage-deflate; client_no_context_takeover',
    serverNoContextTakeover: false,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    threshold: 0,
  });
  const hello = sender.compress(Buffer.from('Hello, bystander')) ?? assert.fail();
  try {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
          fc.tuple(message, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([data, at, xor]) => {
            const compressed = Buffer.from(sender.compress(data) ?? Buffer.alloc(1));
            if (compressed.length > 0) compressed[at % compressed.length] ^= xor;
            return compressed;
          }),
        ),
        fc.boolean(),
        fc.integer({ min: 0, max: 4096 }),
        (input, fin, limit) => {
          const out = victim.decompress(input, fin, limit);
          if (out instanceof ProtocolError) {
            assert.ok(out.closeCode === 1007 || out.closeCode === 1009, `close code ${out.closeCode}`);
            if (out.closeCode === 1009) assert.equal(out.code, 'WS_MESSAGE_TOO_BIG');
            victim.release(); // the core fails the connection and releases; a new message starts clean
          } else {
            assert.ok(out.length <= limit, `${out.length} bytes past the limit ${limit}`);
            if (!fin) {
              victim.release();
            }
          }
          const check = bystander.decompress(hello, true, 1000);
          assert.ok(!(check instanceof ProtocolError));
          assert.equal(check.toString(), 'Hello, bystander');
        },
      ),
      { seed: 1951, numRuns: 400 },
    );
  } finally {
    victim.release();
    bystander.release();
    sender.release();
  }
});
