// The chat server's HTTP side: /healthz, the static chat page with content types, no path traversal, 405 and 426.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers.js';

function webRoot(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'hayate-web-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dist = join(root, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>chat</title>');
  writeFileSync(join(dist, 'app.js'), 'console.log(1)');
  writeFileSync(join(dist, 'assets', 'style.css'), 'body{}');
  writeFileSync(join(root, 'secret.txt'), 'do not serve');
  return dist;
}

/** raw sends a request with the path exactly as given (fetch would normalise `..`). */
function raw(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('/healthz answers 200 with status ok and the connection count', async (t) => {
  const { port } = await startServer(t);
  const res = await raw(port, '/healthz');
  assert.equal(res.status, 200);
  assert.match(res.type ?? '', /application\/json/);
  assert.equal(JSON.parse(res.body).status, 'ok');
  assert.equal(JSON.parse(res.body).connections, 0);
});

test('serves index.html at / and files with their content types', async (t) => {
  const { port } = await startServer(t, { webRoot: webRoot(t) });
  const index = await raw(port, '/');
  assert.deepEqual([index.status, index.type, index.body], [200, 'text/html; charset=utf-8', '<!doctype html><title>chat</title>']);
  assert.equal((await raw(port, '/app.js')).type, 'text/javascript; charset=utf-8');
  assert.equal((await raw(port, '/assets/style.css')).type, 'text/css; charset=utf-8');
  assert.equal((await raw(port, '/missing.js')).status, 404);
  const head = await raw(port, '/app.js', 'HEAD');
  assert.deepEqual([head.status, head.body], [200, '']);
});

test('never serves files outside the web root, however the path is spelled', async (t) => {
  const { port } = await startServer(t, { webRoot: webRoot(t) });
  for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/app.js%00.html']) {
    const res = await raw(port, path);
    assert.notEqual(res.status, 200, path);
    assert.doesNotMatch(res.body, /do not serve/, path);
  }
});

test('other methods get 405 and plain requests to the WebSocket path get 426', async (t) => {
  const { port } = await startServer(t, { webRoot: webRoot(t) });
  assert.equal((await raw(port, '/', 'POST')).status, 405);
  assert.equal((await raw(port, '/ws')).status, 426);
});
