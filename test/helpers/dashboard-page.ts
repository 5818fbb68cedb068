import type { Browser, Page } from 'playwright-core';

// The functions given to page.evaluate run in the page; the test program has no DOM lib, so the little
// they touch is typed here (module scope: nothing global is declared).
interface DomElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  dataset: Record<string, string | undefined>;
  children: Iterable<DomElement> & { length: number };
  textContent: string | null;
}
declare const document: { querySelectorAll(selector: string): Iterable<DomElement> };

/** What test/integration/dashboard_oracle.py computes for one selection of runs. */
export interface Oracle {
  summary: Record<'done' | 'failed' | 'cells' | 'mpx' | 'wall' | 'cpu-hours' | 'gpu-hours' | 'cost' | 'mpx-per-s' | 'cells-per-s' | 'cost-per-image' | 'cost-per-gpx' | 'cost-per-1k-cells', number | null>;
  stages: Record<string, { images: number; mean: number; wait_mean: number | null; wait_max: number | null; attempts: number; retries: number; retried: number; mem_max: number | null }>;
  fits: Record<'time' | 'memory', { stage: string; combo: string; n: number; slope: number; intercept: number; r2: number | null }[]>;
  queues: Record<'cpu' | 'gpu', { mean: number | null; max: number | null }>;
  busy: { run: string; worker: string; busy: number; wall: number; fraction: number; islands: number }[];
  busy_fraction: number | null;
  failure_groups: { stage: string; error_type: string; n: number }[];
  marks: { stack: number; time_dots: Record<string, number>; memory_dots: Record<string, number>; time_lines: Record<string, number>; timeline: Record<string, number>; lanes: Record<string, number> };
}

/**
 * Opens a dashboard page, recording every request it makes (any but the page's own is refused) and every
 * console error or uncaught exception; resolves once the page has drawn.
 */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const origin = new URL(url);
  await page.route('**/*', (route) => {
    const u = route.request().url();
    requests.push(u);
    const own = origin.protocol === 'file:' ? u === url : new URL(u).origin === origin.origin;
    return own ? route.continue() : route.abort();
  });
  await page.goto(url);
  await page.waitForSelector('html[data-renders], #problem', { timeout: 30_000 });
  return { page, requests, errors };
}

/** Summary tiles: figure name → the raw number the tile shows (null for '—'). */
export function readTiles(page: Page): Promise<Record<string, string | null>> {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-figure]')].map((e) =>
    [e.getAttribute('data-figure'), e.querySelector('.value')?.dataset.value ?? null])));
}

/** A table's body: each cell's raw number where it has one, else its text. */
export function readTable(page: Page, id: string): Promise<(string | null)[][]> {
  return page.evaluate((tid) => [...document.querySelectorAll(`#${tid} tbody tr`)].map((tr) =>
    [...tr.children].map((td) => td.dataset.value ?? ((td.textContent ?? '') === '—' ? null : td.textContent))), id);
}

/** Marks drawn inside a container, by Plot mark type (each bar, dot, line series, rule). */
export function marks(page: Page, container: string): Promise<{ bar: number; dot: number; line: number; rule: number }> {
  return page.evaluate((sel) => {
    const out = { bar: 0, dot: 0, line: 0, rule: 0 };
    for (const g of document.querySelectorAll(`${sel} svg g[aria-label]`)) {
      const label = g.getAttribute('aria-label') as keyof typeof out;
      if (label in out) out[label] += g.children.length;
    }
    return out;
  }, container);
}

/** The page's number equals the oracle's to 1e-9 relative (null: the page shows none). */
export function closeTo(actual: string | null | undefined, expected: number | null | undefined, what: string): void {
  if (expected === null || expected === undefined) {
    if (actual !== null && actual !== undefined) throw new Error(`${what}: expected no value, the page shows ${actual}`);
    return;
  }
  const a = Number(actual);
  if (actual === null || actual === undefined || !(Math.abs(a - expected) <= 1e-9 * Math.max(1, Math.abs(expected)))) {
    throw new Error(`${what}: the page shows ${actual}, recomputed ${expected}`);
  }
}
