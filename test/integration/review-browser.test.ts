import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Review, serveReview, writeStaticReview, type ReviewServer } from '../../core/review';
import { browserAvailable, launchBrowser } from '../helpers/browser';
import { measuredWorkspace, truthTypes } from '../helpers/review-fixture';

/**
 * The review page in a real browser (Debian's Chromium through playwright-core): label with the keyboard,
 * reload and find the labels kept, export and re-import them (static page), the server's append-only
 * label file and a second browser seeing the first one's labels, and active learning: after a retrain
 * the least-sure fetch returns other cells.
 */
jest.setTimeout(300_000);
const { ok, skipNote } = browserAvailable();
const suite = ok ? describe : describe.skip;
if (!ok) console.warn(skipNote);

const CLASSES = ['CD3+', 'CD8+', 'PanCK+', 'other'];
let ws: string;
let images: string[];
let browser: Browser;
const truth = new Map<string, Map<number, string>>();

suite('review page', () => {
  beforeAll(async () => {
    ws = mkdtempSync(join(tmpdir(), 'tessel-review-browser-'));
    images = await measuredWorkspace(ws, { images: 2, size: 320, seed: 13 });
    for (const im of images) truth.set(im, truthTypes(ws, im));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  type Shown = { id: string; image: string; label: number };
  const shownCells = (page: Page) => page.evaluate(() => (globalThis as unknown as { tesselReview: { cells(): Shown[] } }).tesselReview.cells());
  const labelOf = (page: Page, id: string) => page.locator(`figure[data-id="${id}"]`).getAttribute('data-label');
  /** Waits until the element's text matches (a string matches literally). */
  async function waitText(page: Page, selector: string, want: string | RegExp, timeout = 10_000): Promise<void> {
    const re = typeof want === 'string' ? new RegExp(want.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : want;
    try {
      await page.waitForFunction(([sel, src, flags]) => new RegExp(src, flags).test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector(sel)?.textContent ?? ''), [selector, re.source, re.flags] as const, { timeout });
    } catch (e) {
      throw new Error(`${selector} never matched ${re}: it reads '${await page.locator(selector).textContent()}' (${(e as Error).message.split('\n')[0]})`);
    }
  }
  /** Labels the focused cells in order with their true type, by key. */
  async function labelTruly(page: Page, cells: Shown[]): Promise<void> {
    for (const c of cells) await page.keyboard.press(String(CLASSES.indexOf(truth.get(c.image)!.get(c.label)!) + 1));
  }

  test('static: keyboard labels survive a reload, and export → import restores them in a fresh browser', async () => {
    const review = await Review.open({ root: ws, sampleFraction: 0.5, perPage: 60, classes: CLASSES });
    await writeStaticReview(review, join(ws, 'REVIEW', 'pages'));
    await review.close();
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`file://${join(ws, 'REVIEW', 'pages', 'index.html')}`);
    const cells = await shownCells(page);
    expect(cells).toHaveLength(60);
    await page.keyboard.press('1');
    await page.keyboard.press('u');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('4');
    await expect(labelOf(page, cells[0].id)).resolves.toBe('CD3+');
    await expect(labelOf(page, cells[1].id)).resolves.toBe('unsure');
    await expect(labelOf(page, cells[2].id)).resolves.toBeNull();
    await expect(labelOf(page, cells[3].id)).resolves.toBe('other');
    await waitText(page, '#counts', 'CD3+ 1');
    await page.reload();
    await expect(labelOf(page, cells[0].id)).resolves.toBe('CD3+');
    await expect(labelOf(page, cells[3].id)).resolves.toBe('other');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const file = join(ws, 'exported.json');
    await download.saveAs(file);
    const exported = JSON.parse(readFileSync(file, 'utf8')) as { format: string; labels: { cellId: string; label: string }[] };
    expect(exported.format).toBe('tessel-review-labels');
    expect(exported.labels.map((l) => l.label).sort()).toEqual(['CD3+', 'other', 'unsure']);
    await context.close();
    // A fresh browser (empty localStorage) has nothing until the file is imported.
    const fresh = await browser.newContext();
    const page2 = await fresh.newPage();
    await page2.goto(`file://${join(ws, 'REVIEW', 'pages', 'index.html')}`);
    await expect(labelOf(page2, cells[0].id)).resolves.toBeNull();
    await page2.setInputFiles('#import', file);
    await waitText(page2, '#status', 'imported 3 decisions');
    await expect(labelOf(page2, cells[0].id)).resolves.toBe('CD3+');
    await page2.reload();
    await expect(labelOf(page2, cells[3].id)).resolves.toBe('other');
    await fresh.close();
  });

  describe('served', () => {
    let review: Review;
    let server: ReviewServer;
    const labelsPath = () => join(ws, 'REVIEW', 'labels.jsonl');
    beforeAll(async () => {
      review = await Review.open({ root: ws, sampleFraction: 0.5, perPage: 40, classes: CLASSES, reviewer: 'ann' });
      server = await serveReview(review, { labelsPath: labelsPath(), port: 0 });
    });
    afterAll(async () => {
      await server?.close();
      await review?.close();
    });

    test('every label is appended as it is made, kept on reload, and a second browser sees it', async () => {
      const page = await (await browser.newContext()).newPage();
      await page.goto(server.url);
      await page.locator('figure').first().waitFor();
      const cells = await shownCells(page);
      await labelTruly(page, cells.slice(0, 30));
      await waitText(page, '#status', 'all saved (30 labelled)', 10_000);
      const lines = readFileSync(labelsPath(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { cellId: string; reviewer: string });
      expect(lines).toHaveLength(30);
      expect(new Set(lines.map((l) => l.cellId))).toEqual(new Set(cells.slice(0, 30).map((c) => c.id)));
      expect(lines[0].reviewer).toBe('ann');
      await page.reload();
      await page.locator('figure').first().waitFor();
      await waitText(page, '#counts', `unlabelled here ${cells.length - 30}`);
      // A second browser labels cell 31; the first one shows it without reloading.
      const other = await (await browser.newContext()).newPage();
      await other.goto(server.url);
      await other.locator('figure').first().waitFor();
      await other.click(`figure[data-id="${cells[30].id}"]`);
      await labelTruly(other, [cells[30]]);
      await page.waitForSelector(`figure[data-id="${cells[30].id}"][data-label="${truth.get(cells[30].image)!.get(cells[30].label)!}"]`, { timeout: 10_000 });
      expect(readFileSync(labelsPath(), 'utf8').trim().split('\n')).toHaveLength(31);
      await page.screenshot({ path: join(ws, 'served.png') });
      process.stdout.write(`screenshot: ${join(ws, 'served.png')}\n`);
    });

    test('active learning: retrain shows cross-validated accuracy, and the least-sure cells change after labelling them and retraining', async () => {
      const page = await (await browser.newContext()).newPage();
      await page.goto(server.url);
      await page.locator('figure').first().waitFor();
      // Enough of each class to train: label the rest of the sample's first page too.
      await labelTruly(page, await shownCells(page));
      await page.keyboard.press('t');
      await waitText(page, '#learn', 'CV accuracy:', 30_000);
      await page.keyboard.press('f');
      await waitText(page, '#status', 'least-sure cells (round 1)', 30_000);
      const first = await shownCells(page);
      expect(first.length).toBeGreaterThan(0);
      await labelTruly(page, first);
      await waitText(page, '#status', 'all saved', 10_000);
      await page.keyboard.press('t');
      await waitText(page, '#learn', /labels → .*, \d+ labels → /, 30_000);
      await page.keyboard.press('f');
      await waitText(page, '#status', '(round 2)', 30_000);
      const second = await shownCells(page);
      const before = new Set(first.map((c) => c.id));
      expect(second.filter((c) => before.has(c.id))).toEqual([]);
      await page.screenshot({ path: join(ws, 'least-sure.png') });
    });
  });
});
