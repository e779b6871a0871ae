#!/usr/bin/env node
// Micro-benchmark behind docs/decisions/fused-unmask.md: the server-side frame parser (src/protocol/frame-parser.ts)
// on the 64 KiB echo's input, with no sockets. A stream of masked 65,550-byte frames (64 KiB payload, 14-byte header)
// is cut into 64 KiB chunks, as Node's socket reads deliver it, so nearly every frame spans two chunks; the parser
// turns them back into messages. Prints GB/s of payload, median and min–max over rounds.
//
//   node bench/parse-spanning.mjs [--root <checkout with dist/>] [--size 65536] [--rounds 7] [--mb 512]
//
// `--root` points at another build of hayate (say, a copy of the tree before a change), to compare two builds on the
// same machine back to back. Indicative only; run it under `flock /tmp/bench.lock` on a shared machine.
import { randomFillSync } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

const root = resolve(arg('root', join(dirname(fileURLToPath(import.meta.url)), '..')));
const size = Number(arg('size', 65536));
const rounds = Number(arg('rounds', 7));
const totalBytes = Number(arg('mb', 512)) * 1024 * 1024;
const READ_BYTES = 64 * 1024;

const { FrameParser, Step } = await import(pathToFileURL(join(root, 'dist', 'protocol', 'frame-parser.js')).href);

/** A masked client frame of `size` random bytes (binary, FIN set). */
function clientFrame() {
  const extended = size < 126 ? 0 : size < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + 4);
  header[0] = 0x82;
  header[1] = 0x80 | (extended === 0 ? size : extended === 2 ? 126 : 127);
  if (extended === 2) header.writeUInt16BE(size, 2);
  if (extended === 8) header.writeBigUInt64BE(BigInt(size), 2);
  const key = randomFillSync(Buffer.alloc(4));
  key.copy(header, 2 + extended);
  const payload = randomFillSync(Buffer.alloc(size));
  for (let i = 0; i < size; i++) payload[i] ^= key[i & 3];
  return Buffer.concat([header, payload]);
}

// 64 frames' worth of stream, cut into reads; each round re-copies the reads (the parser owns and may unmask them).
const stream = Buffer.concat(new Array(64).fill(clientFrame()));
const reads = [];
for (let at = 0; at < stream.length; at += READ_BYTES) reads.push(stream.subarray(at, Math.min(stream.length, at + READ_BYTES)));

function round() {
  const parser = new FrameParser({ role: 'server', maxPayload: 100 * 1024 * 1024, extension: null });
  let payloadBytes = 0;
  let elapsed = 0n;
  while (payloadBytes < totalBytes) {
    const copies = reads.map((r) => Buffer.from(r));
    const start = process.hrtime.bigint();
    for (const chunk of copies) {
      parser.push(chunk);
      for (let step = parser.step(); step !== Step.NeedMore; step = parser.step()) {
        if (step !== Step.Message) throw new Error(`unexpected step ${step}: ${parser.error?.message}`);
        payloadBytes += parser.message.length;
      }
    }
    elapsed += process.hrtime.bigint() - start;
  }
  return payloadBytes / Number(elapsed); // bytes per ns = GB/s
}

round(); // warm-up
const results = [];
for (let r = 0; r < rounds; r++) results.push(round());
results.sort((a, b) => a - b);
const fmt = (v) => v.toFixed(2);
console.log(`parse ${size}-byte masked frames from 64 KiB reads (${root}): ${fmt(results[results.length >> 1])} GB/s median, ` +
  `${fmt(results[0])}–${fmt(results[results.length - 1])} over ${rounds} rounds`);
