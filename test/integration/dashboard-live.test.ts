/**
 * `tessel dashboard --serve` while a real run goes: the page is opened before the run has written
 * anything (it says so, and keeps checking), then follows a `tessel run --embedded` on a tiny synthetic
 * workspace image by image, and ends on the finished run; it calls only its own server and logs no error.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { browserAvailable, launchBrowser } from '../helpers/browser';
import { ROOT, stopChild, tessel } from '../helpers/cluster';
import { marks, openPage, readTiles } from '../helpers/dashboard-page';
import { freePort } from '../helpers/service';

jest.setTimeout(300_000);

const avail = browserAvailable();
if (!avail.ok && !process.env.CI) console.warn(avail.skipNote);
const maybe = avail.ok || process.env.CI ? describe : describe.skip;
// Images of 768² take a few seconds each: the run's process keeps the DuckDB file for a second after each
// row, so rows closer together than that leave a reader no gap until the run ends.
const IMAGES = 4;

maybe('the live dashboard', () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'tessel-dash-live-'));
  const ws = join(dir, 'ws');
  beforeAll(async () => {
    const synth = await tessel(['synth', ws, '--images', String(IMAGES), '--size', '768', '--channels', '4', '--seed', '11']);
    expect(synth.code).toBe(0);
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it('updates while a run is going', async () => {
    const port = await freePort();
    const server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), 'dashboard', ws, '--serve', '--port', String(port), '--refresh', '1'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stderr!.on('data', (d: Buffer) => (log += d));
    try {
      const url = await new Promise<string>((res, rej) => {
        server.stdout!.on('data', (d: Buffer) => { const m = /http:\/\/\S+/.exec(d.toString()); if (m) res(m[0]); });
        server.once('exit', (c) => rej(new Error(`dashboard --serve exited ${c}: ${log}`)));
      });
      const { page, requests, errors } = await openPage(browser, url);
      // Nothing written yet: the page says so instead of going blank.
      expect(await page.locator('#problem').innerText()).toMatch(/benchmarks\.duckdb: no benchmarks file: a run writes it with its first image[\s\S]*checks again every 1 s/);

      let running = true;
      const run = tessel(['run', 'workspace', ws, '--embedded', '--max-concurrent', '1', '--json']).finally(() => { running = false; });
      const seen: { done: number; running: boolean }[] = [];
      while (running) {
        const tiles = await readTiles(page);
        if (tiles.done !== undefined) seen.push({ done: Number(tiles.done), running });
        await page.waitForTimeout(250);
      }
      const res = await run;
      expect(res.code).toBe(0);
      for (const until = Date.now() + 20_000; (await readTiles(page)).done !== String(IMAGES) && Date.now() < until;) await page.waitForTimeout(250);
      expect((await readTiles(page)).done).toBe(String(IMAGES));
      await page.screenshot({ path: join(process.env.TESSEL_SCREENSHOTS ?? dir, 'dashboard-live.png') });

      const during = seen.filter((s) => s.running).map((s) => s.done);
      // It showed the run part-way (some images done, not all) while the run was still going, and only ever went up.
      if (!during.some((d) => d > 0 && d < IMAGES)) throw new Error(`never saw the run part-way: ${JSON.stringify(seen)}\n${log}`);
      expect([...during].sort((a, b) => a - b)).toEqual(during);
      expect(await page.locator('#live-status').innerText()).toMatch(/live · generated .* refreshes every 1 s/);
      // What the run's own rows carry: its command line and settings hash.
      const runRow = await page.locator('#runs-table tbody tr').innerText();
      expect(runRow).toMatch(/tessel run workspace \S+ --embedded --max-concurrent 1 --json/);
      expect(runRow).toMatch(/\b[0-9a-f]{12}\b/);
      expect((await marks(page, '#chart-stack')).bar).toBeGreaterThanOrEqual(IMAGES * 4);
      expect(requests.every((u) => u.startsWith(url))).toBe(true);
      expect(requests.filter((u) => u.endsWith('/data.json')).length).toBeGreaterThan(2);
      expect(errors).toEqual([]);
    } finally {
      await stopChild(server);
    }
  });
});
