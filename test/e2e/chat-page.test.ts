// Browser end-to-end: the chat page (web/, built with scripts/build-web.mjs) in headless Debian Chromium against the
// real dev-mode chat server. Two people chat, DM, see presence, live through a server restart and an offline spell,
// and every message shows once. Saves test-artifacts/chat.png (desktop) and chat-phone.png (a phone viewport).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { startChatServer, type ChatFixture } from '../sdk/chat-server-fixture.js';

function buildPage(): void {
  const result = spawnSync(process.execPath, ['scripts/build-web.mjs'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `web build failed: ${result.stderr}`);
}

async function open(browser: Browser, fixture: ChatFixture, name: string, viewport = { width: 1100, height: 720 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${fixture.httpUrl}?name=${encodeURIComponent(name)}`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'connected');
  await page.waitForFunction(() => document.getElementById('title')?.textContent === '# lobby');
  (page as Page & { problems: string[] }).problems = problems;
  return page;
}

/** texts returns the message texts shown in the open conversation, in order. */
function texts(page: Page): Promise<string[]> {
  return page.$$eval('#messages li.msg .text', (nodes) => nodes.map((n) => n.textContent ?? ''));
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

async function waitForTexts(page: Page, expected: string[]): Promise<void> {
  try {
    await page.waitForFunction(
      (want) => {
        const got = [...document.querySelectorAll('#messages li.msg .text')].map((n) => n.textContent);
        return got.length >= want.length && want.every((w) => got.includes(w));
      },
      expected,
      { timeout: 10_000 },
    );
  } catch (error) {
    throw new Error(`expected ${JSON.stringify(expected)}, page shows ${JSON.stringify(await texts(page))}`, { cause: error });
  }
}

test('two pages chat, DM, see presence, survive a server restart and an offline spell, and show every message once', async (t) => {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${what}: ${Date.now() - t0} ms`);
  const browser = await launchChromium(t);
  if (browser === null) return;
  t.after(() => browser.close());
  buildPage();
  const fixture = await startChatServer(t);

  mark('launched and built');
  const [alice, bob] = await Promise.all([open(browser, fixture, 'alice'), open(browser, fixture, 'bob')]);

  assert.deepEqual(await alice.$$eval('#rooms button', (b) => b.map((n) => n.textContent)), ['# lobby'], 'the DM inbox is not listed as a room');

  // Chat in a room.
  await say(alice, 'hello from alice');
  await waitForTexts(bob, ['hello from alice']);
  await say(bob, 'hi alice');
  await waitForTexts(alice, ['hello from alice', 'hi alice']);

  mark('chat');
  // Presence: carol comes and goes; alice's member list and notices follow.
  const carol = await open(browser, fixture, 'carol');
  await alice.waitForSelector('#members button[data-user="dev:carol"]');
  await alice.waitForFunction(() => [...document.querySelectorAll('#messages .notice')].some((n) => n.textContent === 'carol joined'));
  await carol.context().close();
  await alice.waitForFunction(() => [...document.querySelectorAll('#messages .notice')].some((n) => n.textContent === 'carol left'));
  await alice.waitForSelector('#members button[data-user="dev:carol"]', { state: 'detached' });

  mark('presence');
  // A DM from the member list.
  await bob.click('#members button[data-user="dev:alice"]');
  assert.equal(await bob.textContent('#title'), '@ alice');
  await say(bob, 'psst, alice');
  await alice.waitForSelector('#dms button[data-key="dm:dev:alice:dev:bob"] .badge');
  await alice.click('#dms button[data-key="dm:dev:alice:dev:bob"]');
  await waitForTexts(alice, ['psst, alice']);
  await say(alice, 'got it');
  await waitForTexts(bob, ['psst, alice', 'got it']);
  await bob.click('#rooms button[data-key="room:lobby"]');
  await alice.click('#rooms button[data-key="room:lobby"]');

  // Join a second room from the form, then leave it.
  await bob.fill('#join-room', 'random');
  await bob.click('#join-form button');
  await bob.waitForFunction(() => document.getElementById('title')?.textContent === '# random');
  await bob.waitForSelector('#members button[data-user="dev:bob"]');
  await bob.click('#leave');
  await bob.waitForSelector('#rooms button[data-key="room:random"]', { state: 'detached' });
  assert.deepEqual(await bob.$$eval('#rooms button', (b) => b.map((n) => n.textContent)), ['# lobby']);
  await bob.click('#rooms button[data-key="room:lobby"]');
  mark('dm');
  // The server restarts mid-conversation; alice types while it is down (shown as pending), both pages reconnect.
  await fixture.kill();
  await alice.waitForFunction(() => /reconnecting|connecting/.test(document.getElementById('status')?.textContent ?? ''));
  await say(alice, 'typed while the server was down');
  await alice.waitForSelector('#messages li.msg.pending');
  await fixture.restart({ keepHistory: true });
  await alice.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', undefined, { timeout: 15_000 });
  await bob.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', undefined, { timeout: 15_000 });
  await alice.waitForSelector('#messages li.msg.pending', { state: 'detached' });

  mark('restart');
  // Offline in the browser: the status says so, a message waits, and goes out when the network returns. Bob speaks
  // while alice is cut off and before she types: the server has his message first, and alice's page must show it
  // above hers once the resume brings it, as bob's page does (not below the line she typed while offline).
  await alice.context().setOffline(true);
  await alice.waitForFunction(() => document.getElementById('status')?.textContent === 'offline');
  await say(bob, 'welcome back');
  await bob.waitForSelector('#messages li.msg.pending', { state: 'detached' }); // the server has it
  await say(alice, 'sent from the tunnel');
  await alice.waitForSelector('#messages li.msg.pending');
  await alice.context().setOffline(false);
  await alice.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', undefined, { timeout: 15_000 });

  mark('offline');
  const conversation = ['hello from alice', 'hi alice', 'typed while the server was down', 'welcome back', 'sent from the tunnel'];
  await waitForTexts(alice, conversation);
  await waitForTexts(bob, conversation);
  await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would show up now
  assert.deepEqual(await texts(alice), conversation, 'alice shows every message once, in order');
  assert.deepEqual(await texts(bob), conversation, 'bob shows every message once, in order');
  assert.equal(await alice.$$eval('#messages li.msg.pending, #messages li.msg.failed', (n) => n.length), 0);

  mark('checked');
  mkdirSync('test-artifacts', { recursive: true });
  await alice.screenshot({ path: 'test-artifacts/chat.png' });
  const phone = await open(browser, fixture, 'dana', { width: 390, height: 780 });
  await waitForTexts(phone, conversation);
  await phone.screenshot({ path: 'test-artifacts/chat-phone.png' });
  // On a phone the rooms, DMs and members live in a drawer behind the menu button.
  assert.equal(await phone.isVisible('#menu'), true);
  await phone.click('#menu');
  await phone.waitForFunction(() => document.getElementById('side')?.getBoundingClientRect().left === 0);
  await phone.screenshot({ path: 'test-artifacts/chat-phone-menu.png' });
  await phone.click('#members button[data-user="dev:alice"]');
  assert.equal(await phone.textContent('#title'), '@ alice');
  assert.equal(await alice.isVisible('#menu'), false, 'no menu button on a wide screen');
  mark('phone');
  for (const page of [alice, bob, phone]) {
    assert.deepEqual((page as Page & { problems: string[] }).problems, [], 'no script errors on the page');
  }
});
