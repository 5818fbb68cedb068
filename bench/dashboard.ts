/**
 * Dashboard at scale: a DuckDB store of --rows benchmark rows (default 100,000: --runs runs on three machine
 * types, image sizes 0.1–20 Mpx, 3% failures), then `collectDashboard` (every figure's SQL), the page's size,
 * and the time Chromium takes from navigation to the page drawn, each --repeat times. The reference timed
 * in the same run is the same page for the 13 known rows of the tests: the ratios say what 100,000 rows
 * cost over a page with next to nothing in it. Targets: drawn in under 2 s, the file under 10 MB.
 *
 *   npx tsx bench/dashboard.ts [--rows 100000] [--runs 20] [--repeat 3] [--keep DIR [--reuse]]   (--reuse: the store already in DIR)
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDuckDbFiles, DuckDbSink } from '../core/bench/duckdb';
import { BENCHMARK_COLUMNS } from '../core/bench/schema';
import { collectDashboard } from '../core/dashboard/collect';
import { renderPage } from '../core/dashboard/page';
import { DuckDbStore } from '../core/dashboard/store';
import { imageRow, knownRows } from '../test/helpers/benchmark-rows';
import { launchBrowser } from '../test/helpers/browser';
import type { BenchmarkRow } from '../core/bench/schema';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const keep = process.argv.includes('--keep') ? process.argv[process.argv.indexOf('--keep') + 1] : undefined;
const ROWS = arg('rows', 100_000);
const RUNS = arg('runs', 20);
const REPEAT = arg('repeat', 3);
const MACHINES = [['g2-standard-8', 'nvidia-l4'], ['n1-standard-8', 'nvidia-tesla-t4'], ['a2-highgpu-1g', 'nvidia-a100']] as const;

function manyRows(n: number, runs: number): BenchmarkRow[] {
  const rows: BenchmarkRow[] = [];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < n; i++) {
    const run = i % runs;
    const k = Math.floor(i / runs);
    const [gpuMachine, gpuType] = MACHINES[run % MACHINES.length];
    const r = rand();
    rows.push(imageRow({
      runId: `run-${String(run).padStart(2, '0')}`, image: `img_${String(k).padStart(6, '0')}`,
      queuedMs: Date.parse('2024-06-01T00:00:00Z') + run * 86_400_000 + k * 2000, mpx: 0.1 + 20 * rand() ** 2,
      cpuMachine: 'n2-standard-8', gpuMachine, gpuType, numGpus: 1, worker: `gpu-${run}-${k % 4}`, predictWaitS: 2 * rand(),
      predictAttempts: r < 0.02 ? 2 : 1, fail: r > 0.97 ? { stage: r > 0.99 ? 'convert' : 'postprocess', errorType: r > 0.99 ? 'INVALID_IMAGE' : 'INVALID_ARRAY' } : undefined,
    }));
  }
  return rows;
}

/** Rows into a new DuckDB file: the sink creates the table; the bulk goes in through DuckDB's JSON reader (the sink binds row by row). */
async function buildStore(file: string, rows: BenchmarkRow[]): Promise<void> {
  await new DuckDbSink(file).write(rows.slice(0, 1));
  closeDuckDbFiles();
  const json = `${file}.ndjson`;
  writeFileSync(json, rows.slice(1).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  const types: Record<string, string> = { STRING: 'VARCHAR', FLOAT: 'DOUBLE', INTEGER: 'BIGINT', BOOLEAN: 'BOOLEAN', DATETIME: 'TIMESTAMP', TIMESTAMP: 'TIMESTAMPTZ' };
  const columns = BENCHMARK_COLUMNS.map((c) => `'${c.name}': '${types[c.type]}'`).join(', ');
  await conn.run(`INSERT INTO benchmarks SELECT ${BENCHMARK_COLUMNS.map((c) => `"${c.name}"`).join(', ')} FROM read_json('${json}', format = 'newline_delimited', columns = {${columns}})`);
  conn.closeSync();
  db.closeSync();
  rmSync(json);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label: string, file: string, dir: string) {
  const collectMs: number[] = [];
  const drawMs: number[] = [];
  const inPageMs: number[] = [];
  const heldMs: number[] = [];
  let html = '';
  const browser = await launchBrowser();
  try {
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      const store = new DuckDbStore(file);
      const data = await collectDashboard(store, {});
      collectMs.push(performance.now() - t0);
      heldMs.push(store.heldMs);
      html = renderPage(data);
      const page = join(dir, `${label}.html`);
      writeFileSync(page, html);
      const tab = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      const t1 = performance.now();
      await tab.goto(`file://${page}`);
      await tab.waitForSelector('html[data-renders]');
      drawMs.push(performance.now() - t1);
      await tab.waitForSelector('html[data-drawn-ms]');
      inPageMs.push(Number(await tab.getAttribute('html', 'data-drawn-ms')));
      if (errors.length) throw new Error(`${label}: page errors: ${errors.join('; ')}`);
      await tab.close();
    }
  } finally {
    await browser.close();
  }
  return { collectMs: median(collectMs), heldMs: median(heldMs), drawMs: median(drawMs), inPageMs: median(inPageMs), bytes: Buffer.byteLength(html), all: { collectMs, drawMs, inPageMs } };
}

async function main(): Promise<void> {
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'tessel-bench-dash-'));
  const small = join(dir, 'known.duckdb');
  const big = join(dir, 'big.duckdb');
  rmSync(small, { force: true });
  await buildStore(small, knownRows());
  if (!(process.argv.includes('--reuse') && existsSync(big))) {
    rmSync(big, { force: true });
    const t0 = performance.now();
    await buildStore(big, manyRows(ROWS, RUNS));
    process.stderr.write(`store of ${ROWS.toLocaleString('en-US')} rows (${RUNS} runs) built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${big}\n`);
  }
  const ref = await measure('known', small, dir);
  const res = await measure('big', big, dir);
  const fmt = (m: typeof res) => `collect (SQL) ${m.collectMs.toFixed(0)} ms (file held ${m.heldMs.toFixed(0)} ms), page ${(m.bytes / 1e6).toFixed(2)} MB, ` +
    `navigation to drawn ${m.inPageMs.toFixed(0)} ms (new tab + load + draw ${m.drawMs.toFixed(0)} ms)`;
  const runs = (m: typeof res) => `[collect ${m.all.collectMs.map((x) => x.toFixed(0)).join('/')}; drawn ${m.all.inPageMs.join('/')}]`;
  process.stdout.write(`reference, 13 rows: ${fmt(ref)} ${runs(ref)}\n`);
  process.stdout.write(`${ROWS.toLocaleString('en-US')} rows: ${fmt(res)} ${runs(res)}\n`);
  process.stdout.write(`ratios to the reference: collect ${(res.collectMs / ref.collectMs).toFixed(1)}x, size ${(res.bytes / ref.bytes).toFixed(1)}x, ` +
    `drawn ${(res.inPageMs / ref.inPageMs).toFixed(2)}x\n`);
  process.stdout.write(`targets: drawn < 2000 ms ${res.inPageMs < 2000 ? 'met' : 'MISSED'}, page < 10 MB ${res.bytes < 10e6 ? 'met' : 'MISSED'}\n`);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

void main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
