// Launches Debian's headless Chromium through playwright-core. In CI (CI=true) a missing browser fails the test;
// on a developer's machine it skips with the reason.
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** launchChromium starts headless Chromium, or returns null after skipping `t` when it is missing outside CI. */
export async function launchChromium(t: TestContext): Promise<Browser | null> {
  if (!existsSync(CHROMIUM_PATH)) {
    if (process.env.CI === 'true') throw new Error(`Chromium is required in CI but ${CHROMIUM_PATH} is missing`);
    t.skip(`Chromium not installed at ${CHROMIUM_PATH} (apt-get install -y chromium)`);
    return null;
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}
