/**
 * `tessel dashboard` on a DuckDB store of known rows (written by the real sink), opened in Chromium:
 * every figure on the page is compared with an independent recomputation from the raw rows (Python's
 * duckdb + numpy, test/integration/dashboard_oracle.py), each chart's marks are counted, filters and
 * run-vs-run are driven through the page, and the page must make no request beyond itself. Bad input
 * (empty store, unknown run, a file held by a writer, not a DuckDB file, an old table) gets a clear message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { closeDuckDbFiles, DuckDbSink } from '../../core/bench/duckdb';
import { DEFAULT_PRICES } from '../../core/dashboard/prices';
import { browserAvailable, launchBrowser } from '../helpers/browser';
import { KNOWN_PRICE_TABLE, knownRows } from '../helpers/benchmark-rows';
import { tessel } from '../helpers/cluster';
import { PYTHON, runPython } from '../helpers/python';
import { closeTo, marks, openPage, readTable, readTiles, type Oracle } from '../helpers/dashboard-page';

jest.setTimeout(180_000);

const avail = browserAvailable();
if (!avail.ok && !process.env.CI) console.warn(avail.skipNote);
const withBrowser = avail.ok || process.env.CI ? describe : describe.skip;

const dir = mkdtempSync(join(tmpdir(), 'tessel-dash-'));
const ws = join(dir, 'ws');
const file = join(ws, 'BENCHMARKS', 'benchmarks.duckdb');
const page = join(dir, 'report.html');
const shots = process.env.TESSEL_SCREENSHOTS ?? dir;
const prices = { ...DEFAULT_PRICES, ...KNOWN_PRICE_TABLE };
let oracle: Record<string, Oracle>;

beforeAll(async () => {
  mkdirSync(join(ws, 'BENCHMARKS'), { recursive: true });
  await new DuckDbSink(file).write(knownRows());
  closeDuckDbFiles();
  oracle = JSON.parse(runPython(join(__dirname, 'dashboard_oracle.py'), [file, JSON.stringify(prices), JSON.stringify([[], ['run-a'], ['run-b']])]));
  const cfg = join(dir, 'env.json');
  writeFileSync(cfg, JSON.stringify({ price_table: KNOWN_PRICE_TABLE }));
  const res = await tessel(['dashboard', ws, '--env-config', cfg, '--out', page]);
  if (res.code !== 0) throw new Error(`dashboard failed (${res.code}): ${res.stderr}`);
  expect(res.stdout.trim()).toBe(page);
  expect(res.stderr).toMatch(/13 row\(s\) of 2 run\(s\).*default prices for g2-standard-8, n2-standard-8; no price for \(unknown\), custom-box/);
});

it('writes one self-contained file: no external script, style or link', () => {
  const html = readFileSync(page, 'utf8');
  expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(http/i);
  expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
});

withBrowser('the page in Chromium', () => {
  let browser: Browser;
  let p: Page;
  let opened: Awaited<ReturnType<typeof openPage>>;
  beforeAll(async () => {
    browser = await launchBrowser();
    opened = await openPage(browser, `file://${page}`);
    p = opened.page;
  });
  afterAll(async () => browser?.close());

  it('requests nothing beyond the file and logs no error', async () => {
    expect(opened.requests).toEqual([`file://${page}`]);
    await p.screenshot({ path: join(shots, 'dashboard-top.png') });
    await p.screenshot({ path: join(shots, 'dashboard-full.png'), fullPage: true });
    expect(statSync(join(shots, 'dashboard-full.png')).size).toBeGreaterThan(50_000);
    expect(opened.errors).toEqual([]);
  });

  it('shows every figure as recomputed from the raw rows', async () => {
    const want = oracle[''];
    const tiles = await readTiles(p);
    for (const [k, v] of Object.entries(want.summary)) closeTo(tiles[k], v, k);
    closeTo(tiles['gpu-busy'], want.busy_fraction, 'gpu-busy');
    closeTo(tiles['wait-cpu'], want.queues.cpu.mean, 'wait-cpu');
    closeTo(tiles['wait-gpu'], want.queues.gpu.mean, 'wait-gpu');
    const stages = await readTable(p, 'stage-table');
    expect(stages.map((r) => r[0])).toEqual(Object.keys(want.stages));
    for (const r of stages) {
      const s = want.stages[r[0] as string];
      [s.images, s.mean, s.wait_mean, s.wait_max, s.attempts, s.retries, s.retried, s.mem_max].forEach((v, i) => closeTo(r[2 + i], v, `${r[0]} column ${i + 2}`));
    }
    for (const kind of ['time', 'memory'] as const) {
      const fits = await readTable(p, `fits-${kind}`);
      expect(fits.map((r) => `${r[0]}/${r[1]}`)).toEqual(want.fits[kind].map((f) => `${f.stage}/${f.combo}`));
      fits.forEach((r, i) => [want.fits[kind][i].n, want.fits[kind][i].slope, want.fits[kind][i].intercept, want.fits[kind][i].r2]
        .forEach((v, j) => closeTo(r[2 + j], v, `${kind} fit ${r[0]}/${r[1]} column ${j + 2}`)));
    }
    // The known rows were made with predict = 0.2 + 0.5·Mpx and memory = 0.5 + 0.14·Mpx.
    expect(want.fits.time.find((f) => f.stage === 'predict' && f.combo === 'g2-standard-8 · nvidia-l4')!.slope).toBeCloseTo(0.5, 9);
    expect(want.fits.memory.find((f) => f.stage === 'predict')!.slope).toBeCloseTo(0.14, 9);
    const busy = await readTable(p, 'busy-table');
    expect(busy.map((r) => `${r[0]}/${r[1]}`)).toEqual(want.busy.map((b) => `${b.run}/${b.worker}`));
    busy.forEach((r, i) => { closeTo(r[3], want.busy[i].busy, 'busy'); closeTo(r[6], want.busy[i].fraction, 'fraction'); });
    expect(await readTable(p, 'failure-groups')).toEqual(want.failure_groups.map((g) => [g.stage, g.error_type, String(g.n)]));
    const failures = await readTable(p, 'failures-table');
    expect(failures.map((r) => r[1])).toEqual(expect.arrayContaining(['/data/run-a/OMETIFF/a4.ome.tiff', '/data/run-b/OMETIFF/b1.ome.tiff']));
  });

  it('says where each price came from', async () => {
    const rows = await readTable(p, 'prices-table');
    const from = Object.fromEntries(rows.map((r) => [r[0], r[2]]));
    expect(from).toMatchObject({ 'n1-standard-8': 'env config price_table', 'g2-standard-8': 'Tessel default', 'custom-box': 'no price: not counted' });
  });

  it('draws each chart with the expected number of marks', async () => {
    const want = oracle[''].marks;
    expect(await marks(p, '#chart-stack')).toMatchObject({ bar: want.stack, rule: 1 });
    for (const [stage, n] of Object.entries(want.time_dots)) {
      expect(await marks(p, `#chart-time .facet[data-stage="${stage}"]`)).toMatchObject({ dot: n, line: want.time_lines[stage] });
    }
    for (const [stage, n] of Object.entries(want.memory_dots)) if (n > 0) expect((await marks(p, `#chart-memory .facet[data-stage="${stage}"]`)).dot).toBe(n);
    // The timeline shows the latest run first.
    expect(await p.inputValue('#timeline-run')).toBe('run-b');
    expect((await marks(p, '#chart-timeline')).bar).toBe(want.timeline['run-b']);
    expect((await marks(p, '#chart-lanes')).bar).toBe(want.lanes['run-b']);
    await p.selectOption('#timeline-run', 'run-a');
    expect((await marks(p, '#chart-timeline')).bar).toBe(want.timeline['run-a']);
    expect((await marks(p, '#chart-lanes')).bar).toBe(want.lanes['run-a']);
  });

  it('filters change what is shown', async () => {
    for (const run of ['run-a', 'run-b']) {
      await p.selectOption('#filter-run', [run]);
      const tiles = await readTiles(p);
      for (const [k, v] of Object.entries(oracle[run].summary)) closeTo(tiles[k], v, `${run} ${k}`);
      expect((await marks(p, '#chart-stack')).bar).toBe(oracle[run].marks.stack);
      expect((await marks(p, '#chart-timeline')).bar).toBe(oracle[run].marks.timeline[run]);
    }
    await p.selectOption('#filter-run', []);
    // Stage: without predict the per-image chart loses predict's segments and the lanes go.
    const all = (await marks(p, '#chart-stack')).bar;
    await p.uncheck('#filter-stage input[value="predict"]');
    const predictSegments = oracle[''].stages.predict.images * 3; // load, compute and write are all > 0
    expect((await marks(p, '#chart-stack')).bar).toBe(all - predictSegments);
    expect(await p.locator('#chart-time .facet[data-stage="predict"]').count()).toBe(0);
    await p.check('#filter-stage input[value="predict"]');
    // Instance type: only images that touched n1-standard-8 (run-b's GPU machine).
    await p.selectOption('#filter-machine', ['n1-standard-8']);
    expect((await readTiles(p)).done).toBe(String(oracle['run-b'].summary.done));
    await p.selectOption('#filter-machine', []);
    // GPU type and dates.
    await p.selectOption('#filter-gpu', ['nvidia-l4']);
    expect((await readTiles(p)).done).toBe(String(oracle['run-a'].summary.done));
    await p.selectOption('#filter-gpu', []);
    await p.fill('#filter-from', '2024-05-07');
    await p.dispatchEvent('#filter-from', 'change');
    expect((await readTiles(p)).done).toBe(String(oracle['run-b'].summary.done));
    await p.click('#filter-reset');
    expect((await readTiles(p)).done).toBe(String(oracle[''].summary.done));
  });

  it('run vs run shows both runs side by side with the change in percent', async () => {
    await p.selectOption('#compare-a', 'run-a');
    await p.selectOption('#compare-b', 'run-b');
    const head = await p.locator('#compare-table thead').innerText();
    expect(head).toMatch(/A: run-a[\s\S]*B: run-b/);
    const rows = Object.fromEntries((await readTable(p, 'compare-table')).map((r) => [`${r[0]}/${r[1]}`, r]));
    const pairs: [string, keyof Oracle['summary']][] = [['summary/images done', 'done'], ['summary/cells', 'cells'], ['summary/wall time', 'wall'],
      ['cost/cost / image', 'cost-per-image'], ['summary/megapixels / s', 'mpx-per-s']];
    for (const [row, key] of pairs) {
      const a = oracle['run-a'].summary[key]!;
      const b = oracle['run-b'].summary[key]!;
      closeTo(rows[row][2], a, `${row} A`);
      closeTo(rows[row][3], b, `${row} B`);
      closeTo(rows[row][4], ((b - a) / Math.abs(a)) * 100, `${row} change`);
    }
    closeTo(rows['predict/s / megapixel (fit)'][2], oracle['run-a'].fits.time.find((f) => f.stage === 'predict')!.slope, 'predict slope A');
    await p.locator('#compare').screenshot({ path: join(shots, 'dashboard-compare.png') });
  });
});

withBrowser('tables from before the dashboard', () => {
  it('an old table without the new columns still renders, and says what it lacks', async () => {
    const old = join(dir, 'old.duckdb');
    runPython(`import duckdb, sys
c = duckdb.connect(sys.argv[1])
c.execute("CREATE TABLE benchmarks (run_id VARCHAR, input_file_id VARCHAR, success BOOLEAN, benchmark_datetime_utc TIMESTAMP, pixels BIGINT, cells BIGINT, prediction_time_s DOUBLE, prediction_instance_type VARCHAR, total_time_s DOUBLE)")
c.execute("INSERT INTO benchmarks VALUES ('old', 'x', TRUE, '2023-01-01 00:00:00', 1000000, 50, 2.0, 'n1-standard-8', 3.0), ('old', 'y', TRUE, '2023-01-01 00:01:00', 2000000, 90, 3.0, 'n1-standard-8', 4.0)")
c.close()`, [old]);
    const out = join(dir, 'old.html');
    const res = await tessel(['dashboard', '--benchmarks', old, '--out', out]);
    expect(res.code).toBe(0);
    const browser = await launchBrowser();
    try {
      const { page: q, errors } = await openPage(browser, `file://${out}`);
      expect(errors).toEqual([]);
      expect(await q.locator('#notes').innerText()).toMatch(/predates \d+ column\(s\).*conversion_started_at/);
      expect((await readTiles(q)).done).toBe('2');
      expect(await marks(q, '#chart-time .facet[data-stage="predict"]')).toMatchObject({ dot: 2, line: 1 });
      expect(await q.locator('#chart-timeline').innerText()).toMatch(/No stage start times/);
    } finally {
      await browser.close();
    }
  });
});

describe('bad input gets one clear line and writes nothing', () => {
  const fails = async (args: string[], message: RegExp) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}.html`);
    const res = await tessel(['dashboard', ...args, '--out', out]);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').pop()).toMatch(message);
    expect(existsSync(out)).toBe(false);
  };

  it('an empty store', async () => {
    const empty = join(dir, 'empty.duckdb');
    runPython('import duckdb, sys; duckdb.connect(sys.argv[1]).execute("CREATE TABLE benchmarks (run_id VARCHAR, input_file_id VARCHAR, success BOOLEAN, benchmark_datetime_utc TIMESTAMP)")', [empty]);
    await fails(['--benchmarks', empty], /^tessel: .*empty\.duckdb: no benchmark rows yet: a run writes one per image/);
  });

  it('a run id the store does not have, listing the runs it has', async () => {
    await fails([ws, '--run', 'run-a', 'nope'], /^tessel: .*benchmarks\.duckdb: no run 'nope' in this store; its runs, latest first: run-b \(7 images\), run-a \(6 images\)$/);
  });

  it('a missing file, a file that is not DuckDB, a table that is not a benchmark table', async () => {
    await fails([join(dir, 'nowhere')], /nowhere\/BENCHMARKS\/benchmarks\.duckdb: no benchmarks file: a run writes it with its first image/);
    const junk = join(dir, 'junk.duckdb');
    writeFileSync(junk, 'not a database at all '.repeat(300));
    await fails(['--benchmarks', junk], /junk\.duckdb: not a DuckDB database file$/);
    const other = join(dir, 'other.duckdb');
    runPython('import duckdb, sys; duckdb.connect(sys.argv[1]).execute("CREATE TABLE benchmarks (a INT, b VARCHAR)")', [other]);
    await fails(['--benchmarks', other], /other\.duckdb: not a Tessel benchmark table: it lacks run_id, input_file_id, success, benchmark_datetime_utc/);
  });

  it('a DuckDB file held open by a writer', async () => {
    const holder: ChildProcess = spawn(PYTHON, ['-c', 'import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print("held", flush=True); time.sleep(120)', file],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((res, rej) => {
        holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && res());
        holder.once('exit', (c) => rej(new Error(`holder exited ${c}`)));
      });
      await fails([ws, '--lock-timeout', '1'], new RegExp(`benchmarks\\.duckdb: held by another process \\(.*PID ${holder.pid}\\) for over 1 s: DuckDB lets one process`));
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
