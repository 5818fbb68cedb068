import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import { measuredWorkspace, truthLabels } from '../helpers/review-fixture';
import type { DevServer } from '../../infra/temporal/dev-server';
import type { RunSummary } from '../../core/contracts';

/**
 * `tessel run --classifier` on a real dev server: a classifier trained (tessel classify train) on another
 * synthetic workspace classifies a small run's cells in a classify stage after quantify — the QUANT TSV's
 * Classification column, GeoJSON classification, the benchmark row's classifier hash and class counts —
 * and `--from-stage classify` re-classifies without segmenting again.
 */
jest.setTimeout(600_000);

let server: DevServer;
let env: NodeJS.ProcessEnv;
let worker: Awaited<ReturnType<typeof startWorker>>;
let ws: string;
let zip: string;

beforeAll(async () => {
  let dir: string;
  ({ server, env, dir } = await startTestServer());
  const train = mkdtempSync(join(tmpdir(), 'tessel-classify-train-'));
  const images = await measuredWorkspace(train, { images: 1, size: 320, seed: 31 });
  writeFileSync(join(train, 'labels.jsonl'), truthLabels(train, images, 120).map((d) => JSON.stringify(d)).join('\n') + '\n');
  zip = join(dir, 'classifier.zip');
  const trained = await tessel(['classify', 'train', train, '--labels', join(train, 'labels.jsonl'), '--out', zip, '--trees', '40']);
  expect(trained.code).toBe(0);
  ws = join(dir, 'ws');
  expect((await tessel(['synth', ws, '--images', '1', '--size', '256', '--seed', '8'])).code).toBe(0);
  worker = await startWorker(['--queue', 'all'], env);
});

afterAll(async () => {
  if (worker) await stopChild(worker);
  await server?.stop();
});

async function run(args: string[]): Promise<RunSummary> {
  const res = await tessel(['run', 'workspace', ws, '--json', '--classifier', zip, ...args], env);
  if (!res.stdout.trim().startsWith('{')) throw new Error(`run printed no JSON (exit ${res.code}):\n${res.stderr}\n${worker.output()}`);
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout) as RunSummary;
}

function classes(file: string): string[] {
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('\t'));
  return rows.map((r) => r[header.indexOf('Classification')]);
}

it('classifies every cell after quantify, records the classifier in the benchmark row, and re-classifies from the classify stage', async () => {
  const first = await run(['--run-id', 'it-classify-1']);
  expect(first.images).toMatchObject({ done: 1, failed: 0 });
  expect(first.stages.classify.done).toBe(1);
  const tsv = join(ws, 'REPORTS', 'tissue_000_QUANT.tsv');
  const cls = classes(tsv);
  expect(cls.length).toBeGreaterThan(20);
  for (const c of cls) expect(['CD3+', 'CD8+', 'PanCK+', 'other']).toContain(c);
  const geo = JSON.parse(readFileSync(join(ws, 'REPORTS', 'tissue_000.geojson'), 'utf8')) as { features: { properties: { classification?: { name: string; color: number[] } } }[] };
  expect(geo.features.map((f) => f.properties.classification?.name)).toEqual(cls);

  // Blank the classes, then only the classify stage runs again.
  const lines = readFileSync(tsv, 'utf8').split('\n');
  const at = lines[0].split('\t').indexOf('Classification');
  writeFileSync(tsv, lines.map((l, i) => (i === 0 || !l ? l : l.split('\t').map((c, k) => (k === at ? '' : c)).join('\t'))).join('\n'));
  const mask = readFileSync(join(ws, 'SEGMASK', 'tissue_000_WholeCellMask.tiff'));
  const again = await run(['--run-id', 'it-classify-2', '--from-stage', 'classify']);
  expect(again.stages.classify.done).toBe(1);
  expect(again.stages.quantify.done).toBe(0);
  expect(classes(tsv)).toEqual(cls);
  expect(readFileSync(join(ws, 'SEGMASK', 'tissue_000_WholeCellMask.tiff')).equals(mask)).toBe(true);

  // The worker keeps the DuckDB file open (and locked) for a moment after its last row.
  let db: DuckDBInstance | undefined;
  for (let i = 0; !db; i++) {
    try {
      db = await DuckDBInstance.create(join(ws, 'BENCHMARKS', 'benchmarks.duckdb'));
    } catch (e) {
      if (i >= 40 || !/lock/i.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const conn = await db.connect();
  const rows = (await conn.runAndReadAll('SELECT run_id, classifier_sha256, class_counts, classification_time_s, quantification_time_s FROM benchmarks ORDER BY run_id')).getRowObjectsJson();
  conn.closeSync();
  db.closeSync();
  const sha = (await tessel(['model', 'inspect', zip, '--json'])).stdout;
  expect(rows).toHaveLength(2);
  for (const r of rows) {
    expect(sha).toContain(String(r.classifier_sha256));
    const counts = JSON.parse(String(r.class_counts)) as Record<string, number>;
    expect(Object.values(counts).reduce((s, v) => s + v, 0)).toBe(cls.length);
    expect(Number(r.classification_time_s)).toBeGreaterThan(0);
  }
  expect(rows[1].quantification_time_s).toBeNull();
});

it('classifies a blockwise image after its blocks as it classifies the same image whole', async () => {
  // 512² as 2×2 blocks of 256: processBlocks segments and measures, then the image's classify stage runs.
  const blocksWs = join(ws, '..', 'ws-blocks');
  expect((await tessel(['synth', blocksWs, '--images', '1', '--size', '512', '--seed', '9'])).code).toBe(0);
  const runIn = async (args: string[]) => {
    const res = await tessel(['run', 'workspace', blocksWs, '--json', '--classifier', zip, '--benchmark-sink', 'none', '--force', ...args], env);
    if (!res.stdout.trim().startsWith('{')) throw new Error(`run printed no JSON (exit ${res.code}):\n${res.stderr}\n${worker.output()}`);
    return JSON.parse(res.stdout) as RunSummary;
  };
  const tsv = join(blocksWs, 'REPORTS', 'tissue_000_QUANT.tsv');
  const blocks = await runIn(['--run-id', 'it-classify-blocks', '--blockwise-above-pixels', '100000', '--block-size', '256', '--halo', '64']);
  expect(blocks.images).toMatchObject({ done: 1, failed: 0 });
  expect(blocks.stages.classify.done).toBe(1);
  expect(readdirSync(join(blocksWs, 'SEGMASK'))).toContain('tissue_000_WholeCellBoxes.npy'); // the blocks' own output: it did run block by block
  const blockTsv = readFileSync(tsv, 'utf8');
  const cls = classes(tsv);
  expect(cls.length).toBeGreaterThan(50);
  expect(new Set(cls).size).toBeGreaterThan(1);

  const whole = await runIn(['--run-id', 'it-classify-whole', '--blockwise-above-pixels', '0']);
  expect(whole.stages.classify.done).toBe(1);
  expect(readFileSync(tsv, 'utf8')).toBe(blockTsv);
});
