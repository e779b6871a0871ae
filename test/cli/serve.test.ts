// `hayate serve`: options from flags and environment, and the real command spawned: it listens, serves, and on SIGTERM
// closes every connection with 1001 and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseServeArgs, UsageError } from '../../src/cli/serve.js';
import { connect } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

test('serve options come from flags, then the environment, then defaults', () => {
  const parsed = parseServeArgs(['--port', '9000', '--dev', '--rate', '7', '--allowed-origins', 'https://a.example, https://b.example'], {
    HAYATE_PORT: '1234', HAYATE_HISTORY: '50', HAYATE_JWT_SECRET: 's3cret', HAYATE_PATH: '/chat',
  });
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  const { options } = parsed;
  assert.equal(options.port, 9000, 'the flag wins over HAYATE_PORT');
  assert.equal(options.historyLimit, 50);
  assert.equal(options.path, '/chat');
  assert.equal(options.auth?.secret, 's3cret');
  assert.equal(options.auth?.dev, true);
  assert.deepEqual(options.limits?.connectionRate, { perSecond: 7, burst: 14 });
  assert.deepEqual(options.allowedOrigins, ['https://a.example', 'https://b.example']);
  const defaults = parseServeArgs([], { HAYATE_DEV: '1' });
  assert.ok(!defaults.help && defaults.options.port === 8080 && defaults.options.path === '/ws' && defaults.options.historyLimit === 1000);
  assert.deepEqual(parseServeArgs(['--help'], {}), { help: true });
  const clustered = parseServeArgs(['--dev', '--redis', 'redis://127.0.0.1:6379/2'], { HAYATE_REDIS_PREFIX: 'chat:' });
  assert.ok(!clustered.help && clustered.redis?.url === 'redis://127.0.0.1:6379/2' && clustered.redis.prefix === 'chat:');
  assert.throws(() => parseServeArgs(['--dev', '--redis', 'http://x'], {}), /redis:\/\/ or rediss:\/\/ URL/);
  const tlsRedis = parseServeArgs(['--dev', '--redis', 'rediss://cache.example:6380'], {});
  assert.ok(!tlsRedis.help && tlsRedis.redis?.url === 'rediss://cache.example:6380');
  const proxied = parseServeArgs(['--dev', '--trust-proxy', '1'], {});
  assert.ok(!proxied.help && proxied.options.trustProxy === 1);
});

test('permessage-deflate is on by default and off with --no-deflate or HAYATE_DEFLATE=0', () => {
  const on = parseServeArgs(['--dev'], {});
  const offByFlag = parseServeArgs(['--dev', '--no-deflate'], {});
  const offByEnv = parseServeArgs(['--dev'], { HAYATE_DEFLATE: '0' });
  assert.ok(!on.help && !offByFlag.help && !offByEnv.help);
  assert.equal(on.options.perMessageDeflate, true);
  assert.equal(offByFlag.options.perMessageDeflate, false);
  assert.equal(offByEnv.options.perMessageDeflate, false);
});

test('serve refuses bad options: no auth outside dev mode, bad numbers, unknown flags, half a TLS pair', () => {
  assert.throws(() => parseServeArgs([], {}), UsageError);
  assert.throws(() => parseServeArgs(['--dev', '--port', 'eighty'], {}), /--port must be an integer/);
  assert.throws(() => parseServeArgs(['--dev', '--bogus'], {}), UsageError);
  assert.throws(() => parseServeArgs(['--dev', '--tls-cert', MAIN], {}), /go together/);
});

test('the spawned command serves, then on SIGTERM closes connections with 1001 and exits 0', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0', '--dev', '--drain-ms', '2000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${err}`)));
  });
  const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as { status: string };
  assert.equal(health.status, 'ok');
  const client = await connect(t, `ws://127.0.0.1:${port}/ws`, { query: '?name=Ada' });
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  assert.equal((await client.closed).code, 1001);
  const [code, signal] = await exited;
  assert.deepEqual([code, signal], [0, null], err);
});
