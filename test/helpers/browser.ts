import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`, as `.ci/run` does); Playwright's own browsers cannot be downloaded here. */
export const CHROMIUM = process.env.TESSEL_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a headless, sandbox-less, offline Chromium that never phones home. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
];

/** Whether the browser tests can run; when not, `skipNote` says why (printed by the suites that skip). */
export function browserAvailable(): { ok: boolean; skipNote?: string } {
  if (existsSync(CHROMIUM)) return { ok: true };
  return { ok: false, skipNote: `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set TESSEL_CHROMIUM)` };
}

/** Launches headless Chromium; close it with `browser.close()`. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
