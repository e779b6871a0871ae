import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/sdk/backoff.js';
import { seededRandom } from '../helpers/seeded-random.js';

test('the delay window doubles from initialDelayMs and stops growing at maxDelayMs', () => {
  const backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000 });
  const windows = [1, 2, 3, 4, 5, 6, 7, 8, 100, 10_000].map((n) => backoff.windowMs(n));
  assert.deepEqual(windows, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
});

test('full jitter: every delay lies in [0, window) and covers the whole window (seeded random)', () => {
  const random = seededRandom(42);
  for (let attempt = 1; attempt <= 8; attempt++) {
    const delays: number[] = [];
    for (let i = 0; i < 400; i++) {
      const backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000, random });
      for (let k = 1; k < attempt; k++) backoff.next();
      delays.push(backoff.next());
    }
    const window = new Backoff().windowMs(attempt);
    assert.ok(delays.every((d) => d >= 0 && d < window), `attempt ${attempt}: a delay left [0, ${window})`);
    assert.ok(Math.min(...delays) < window * 0.1, `attempt ${attempt}: jitter never reached the low end`);
    assert.ok(Math.max(...delays) > window * 0.9, `attempt ${attempt}: jitter never reached the high end`);
  }
});

test('random() at its extremes still yields a delay inside the window, and minDelayMs is a floor', () => {
  assert.equal(new Backoff({ random: () => 0 }).next(), 0);
  assert.equal(new Backoff({ random: () => 0.9999999999 }).next(), 499);
  assert.equal(new Backoff({ random: () => 1 }).next(), 499);
  assert.equal(new Backoff({ random: () => 0, minDelayMs: 100 }).next(), 100);
});

test('reset starts the schedule over at the first window', () => {
  const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 });
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [50, 100, 200]);
  assert.equal(backoff.attempt, 3);
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 50);
});

test('a very long outage does not overflow the window to Infinity or NaN', () => {
  const backoff = new Backoff({ random: () => 0.5 });
  let last = 0;
  for (let i = 0; i < 5000; i++) last = backoff.next();
  assert.equal(last, 15_000);
});

test('rejects options that make no schedule', () => {
  assert.throws(() => new Backoff({ initialDelayMs: 0 }), RangeError);
  assert.throws(() => new Backoff({ initialDelayMs: 1000, maxDelayMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ factor: 0.5 }), RangeError);
});
