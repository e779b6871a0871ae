// Finds the real Redis the tests use (REDIS_URL, default redis://127.0.0.1:6379). In CI a missing Redis fails the
// test; on a developer's machine it skips with the reason.
import { connect } from 'node:net';
import type { TestContext } from 'node:test';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** requireRedis resolves to the Redis URL when something answers there, or skips `t` (outside CI) when not. */
export async function requireRedis(t: TestContext): Promise<string | null> {
  const url = new URL(REDIS_URL);
  const up = await new Promise<boolean>((resolve) => {
    const socket = connect(Number(url.port || 6379), url.hostname);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  if (up) return REDIS_URL;
  if (process.env.CI === 'true') throw new Error(`Redis is required in CI but nothing answers at ${REDIS_URL}`);
  t.skip(`no Redis answering at ${REDIS_URL} (start redis-server or set REDIS_URL)`);
  return null;
}
