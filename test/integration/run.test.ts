import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPython } from '../helpers/python';
import { ROOT, startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import { resolveTemporalBinary, type DevServer } from '../../infra/temporal/dev-server';
import { closeDuckDbFiles, DuckDbSink } from '../../core/bench/duckdb';
import { installRuntimeLogging } from '../../workers/create';

installRuntimeLogging('WARN');
import type { RunProgress, RunSummary } from '../../core/contracts';

/**
 * End to end on a real Temporal dev server: a worker process for all queues, `tessel run workspace`
 * on a generated workspace with one truncated and one non-TIFF image, outputs checked by content with
 * numpy/tifffile, `tessel status --json`, the DuckDB rows, and a replay of the recorded histories.
 */
jest.setTimeout(900_000);

let server: DevServer;
let env: NodeJS.ProcessEnv;
let dir: string;
let worker: Awaited<ReturnType<typeof startWorker>>;
let ws: string;
let names: string[];
let summary: RunSummary;
let runExit: number | null;
const runId = `it-run-${Date.now()}`;

function walk(d: string): string[] {
  return readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
}

beforeAll(async () => {
  ({ server, env, dir } = await startTestServer());
  ws = join(dir, 'ws');
  const synth = await tessel(['synth', ws, '--images', '2', '--size', '512', '--channels', '5', '--seed', '7']);
  expect(synth.code).toBe(0);
  names = readdirSync(join(ws, 'OMETIFF')).filter((f) => f.endsWith('.ome.tiff')).map((f) => f.split('.')[0]).sort();
  expect(names).toHaveLength(2);
  // A truncated copy (IFDs/strips past the end) and a file that is not a TIFF at all.
  copyFileSync(join(ws, 'OMETIFF', `${names[0]}.ome.tiff`), join(ws, 'OMETIFF', 'broken.ome.tiff'));
  truncateSync(join(ws, 'OMETIFF', 'broken.ome.tiff'), 3000);
  writeFileSync(join(ws, 'OMETIFF', 'notatiff.ome.tiff'), 'this is not a TIFF file\n');
  worker = await startWorker(['--queue', 'all'], env);
  const res = await tessel(['run', 'workspace', ws, '--run-id', runId, '--json', '--max-concurrent', '2', '--batch-size', '4'], env);
  runExit = res.code;
  if (!res.stdout.trim().startsWith('{')) throw new Error(`run printed no JSON (exit ${res.code}):\n${res.stderr}\n${worker.output()}`);
  summary = JSON.parse(res.stdout) as RunSummary;
});

afterAll(async () => {
  closeDuckDbFiles();
  if (worker) await stopChild(worker);
  await server?.stop();
});

it('finishes the good images and fails the bad ones with a clear cause', () => {
  expect(runExit).toBe(3);
  expect(summary.state).toBe('completed');
  expect(summary.images).toMatchObject({ total: 4, done: 2, failed: 2 });
  const byName = Object.fromEntries(summary.failures.map((f) => [f.name, f]));
  expect(byName.broken.imageUri).toMatch(/broken\.ome\.tiff$/);
  expect(byName.broken.stage).toBe('convert');
  expect(byName.broken.error).toMatch(/broken\.ome\.tiff/);
  expect(byName.broken.errorType).toBe('INVALID_IMAGE');
  expect(byName.notatiff.error).toMatch(/notatiff\.ome\.tiff.*(not a TIFF|TIFF)/i);
  expect(summary.cells).toBeGreaterThan(20);
});

it('writes every output with the right content', () => {
  const report = JSON.parse(runPython(join(__dirname, 'check_outputs.py'), [ws, ...names])) as Record<string, Record<string, unknown> & {
    WholeCell: { dtype: string; shape: number[]; labels: number; min_label: number; max_label: number; label_set: number[] };
    Nucleus: { dtype: string; shape: number[]; labels: number };
  }>;
  for (const name of names) {
    const r = report[name];
    expect(r.npz_keys).toEqual(['input_channels']);
    expect(r.npz_shape).toEqual([512, 512, 2]);
    expect(r.npz_dtype).toBe('float32');
    expect(r.npz_finite).toBe(true);
    expect((r.npz_channel_max as number[]).every((v) => v > 0)).toBe(true);
    for (const kind of ['WholeCell', 'Nucleus'] as const) {
      expect(r[kind].dtype).toBe('int32');
      expect(r[kind].shape).toEqual([512, 512]);
      expect(r[kind].labels).toBeGreaterThan(20);
    }
    // Sequential labels 1..n, one TSV row per whole-cell label, Name = label.
    expect(r.WholeCell.min_label).toBe(1);
    expect(r.WholeCell.max_label).toBe(r.WholeCell.labels);
    expect(r.tsv_rows).toBe(r.WholeCell.labels);
    expect(r.tsv_names).toEqual(r.WholeCell.label_set);
    expect(r.tsv_columns).toEqual(expect.arrayContaining(['Image', 'Object ID', 'Name', 'Centroid X µm', 'Centroid Y µm', 'Cell: Area µm^2']));
    expect(r.tsv_mismatches).toBe(0);
    expect(r.um_per_pixel_from_tsv).toBeCloseTo(0.5, 5);
    expect(existsSync(join(ws, 'REPORTS', `${name}.geojson`))).toBe(true);
  }
});

it('leaves nothing for the bad images and no temporary files anywhere', () => {
  const files = walk(ws).map((f) => f.slice(ws.length + 1));
  expect(files.filter((f) => f.includes('.tessel-tmp-'))).toEqual([]);
  for (const bad of ['broken', 'notatiff']) {
    // No output for a bad image; its only trace is the manifest that records the failure and why.
    expect(files.filter((f) => !f.startsWith('OMETIFF/') && f.split('/').pop()!.startsWith(bad))).toEqual([`jobs/manifests/${bad}.json`]);
    const manifest = JSON.parse(readFileSync(join(ws, 'jobs', 'manifests', `${bad}.json`), 'utf8')) as { status: string; error: string; outputs: object };
    expect(manifest.status).toBe('failed');
    expect(manifest.error).toContain(`${bad}.ome.tiff`);
    expect(manifest.outputs).toEqual({});
  }
});

it('lists the good images in the QuPath project', () => {
  const proj = JSON.parse(readFileSync(join(ws, 'PROJ', 'project.qpproj'), 'utf8')) as { images: { imageName: string; serverBuilder: { uri: string } }[]; createTimestamp: number; modifyTimestamp: number };
  expect(proj.images.map((i) => i.imageName).sort()).toEqual(names);
  expect(proj.createTimestamp).toBeGreaterThan(0);
  expect(proj.modifyTimestamp).toBeGreaterThan(0);
});

it('leaves one benchmark row per image, failed ones included', async () => {
  // Through the sink, which waits its turn while the worker still holds the file.
  const rows = (await new DuckDbSink(join(ws, 'BENCHMARKS', 'benchmarks.duckdb')).list({ runId }))
    .sort((a, b) => (String(a.input_file_id) < String(b.input_file_id) ? -1 : 1));
  expect(rows.map((r) => r.input_file_id)).toEqual(['broken', ...names, 'notatiff'].sort());
  for (const r of rows) {
    if (names.includes(String(r.input_file_id))) {
      expect(r.success).toBe(true);
      expect(Number(r.pixels)).toBe(512 * 512);
      expect(Number(r.cells)).toBeGreaterThan(20);
      expect(Number(r.prediction_time_s)).toBeGreaterThan(0);
    } else {
      expect(r.success).toBe(false);
      expect(String(r.error)).toMatch(new RegExp(String(r.input_file_id)));
    }
  }
});

it('reports the same through `tessel status --json`', async () => {
  const res = await tessel(['status', runId, '--json'], env);
  expect(res.code).toBe(0);
  const st = JSON.parse(res.stdout) as RunProgress;
  expect(st.state).toBe('completed');
  expect(st.images).toMatchObject({ done: 2, failed: 2, total: 4 });
  expect(st.stages.quantify.done).toBe(2);
  expect(st.stages.convert.failed).toBe(2);
  // Every image, failed or not, leaves its manifest and row; children report the record stage's end in their result.
  expect(st.stages.record).toEqual({ done: 4, failed: 0, running: 0 });
  for (const s of Object.values(st.stages)) expect(s.running).toBe(0);
  expect(st.failures.find((f) => f.name === 'broken')?.error).toMatch(/broken\.ome\.tiff/);
});

it('finds the server through --env-config when the environment does not say', async () => {
  const cfgFile = join(ws, 'env-config.json');
  writeFileSync(cfgFile, JSON.stringify({ region: 'local', temporal: { address: env.TEMPORAL_ADDRESS, namespace: 'default' } }));
  const res = await tessel(['--env-config', cfgFile, 'status', runId, '--json'], { TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '' });
  expect(res.stderr).toBe('');
  expect((JSON.parse(res.stdout) as RunProgress).images).toMatchObject({ done: 2, failed: 2, total: 4 });
  const bad = await tessel(['--env-config', cfgFile.replace('env-config', 'missing'), 'status', runId]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/missing\.json/);
  // deepcell-imaging's segment_model_hash guards the model collection before anything runs.
  const model = join(ROOT, '.tessel', 'models', 'tessel-reference-v1.zip');
  const sha = createHash('sha256').update(readFileSync(model)).digest('hex');
  writeFileSync(cfgFile, JSON.stringify({ segment_model_path: model, segment_model_hash: sha }));
  expect((await tessel(['--env-config', cfgFile, 'run', 'workspace', ws, '--dry-run'])).code).toBe(0);
  writeFileSync(cfgFile, JSON.stringify({ segment_model_path: model, segment_model_hash: '0'.repeat(64) }));
  const wrong = await tessel(['--env-config', cfgFile, 'run', 'workspace', ws, '--dry-run']);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toContain(`model collection sha256 is ${sha}, but the env config's segment_model_hash says ${'0'.repeat(64)}`);
  writeFileSync(cfgFile, JSON.stringify({ temporal: { address: 'no-port' } }));
  const invalid = await tessel(['--env-config', cfgFile, 'status', runId]);
  expect(invalid.code).toBe(1);
  expect(invalid.stderr).toMatch(/env-config\.json.*temporal\.address: expected 'host:port'/);
});

it('lists matches without running on --dry-run', async () => {
  const res = await tessel(['run', 'workspace', ws, '--dry-run', '--image-filter', 'broken,*_001'], env);
  expect(res.code).toBe(0);
  const lines = res.stdout.trim().split('\n').map((l) => l.split('\t'));
  expect(lines.map((l) => l[0])).toEqual(['broken', ...names.filter((n) => n.endsWith('_001'))]);
  expect(lines.find((l) => l[0] === 'broken')?.[1]).toBe('failed-before');
});

it('skips completed images on a second run, and re-runs only the watershed with --from-stage postprocess', async () => {
  const mask = join(ws, 'SEGMASK', `${names[0]}_WholeCellMask.tiff`);
  const before = statSync(mask).mtimeMs;
  const again = await tessel(['run', 'workspace', ws, '--json', '--image-filter', names[0]], env);
  const s2 = JSON.parse(again.stdout) as RunSummary;
  expect(s2.images).toMatchObject({ total: 1, skipped: 1, done: 0, failed: 0 });
  expect(statSync(mask).mtimeMs).toBe(before);

  const redo = await tessel(['run', 'workspace', ws, '--json', '--image-filter', names[0], '--from-stage', 'postprocess', '--run-id', `${runId}-redo`], env);
  const s3 = JSON.parse(redo.stdout) as RunSummary;
  expect(s3.images).toMatchObject({ total: 1, done: 1, failed: 0 });
  expect(s3.stages.predict.done).toBe(0);
  expect(s3.stages.convert.done).toBe(0);
  expect(s3.stages.postprocess.done).toBe(1);
  expect(statSync(mask).mtimeMs).toBeGreaterThan(before);
});

it('exports the benchmark rows with `tessel bench export`', async () => {
  const res = await tessel(['bench', 'export', '--workspace', ws, '--run-id', runId, '--format', 'ndjson']);
  expect(res.code).toBe(0);
  const rows = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rows).toHaveLength(4);
  expect(Object.keys(rows[0]).length).toBeGreaterThanOrEqual(36);
  const csv = await tessel(['bench', 'export', '--workspace', ws, '--run-id', runId, '--format', 'csv']);
  expect(csv.stdout.trim().split('\n')).toHaveLength(5);
});

it('replays the recorded histories without non-determinism', async () => {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
  const client = new Client({ connection });
  // The run, an image that ran its last stages as one activity (512² ≤ --fused-max-pixels), one that failed
  // at convert, and one re-run from postprocess (separate postprocess, quantify and record activities).
  const ids = [runId, `${runId}--${names[0]}`, `${runId}--broken`, `${runId}-redo--${names[0]}`];
  const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })));
  await connection.close();
  // TESSEL_RECORD_HISTORIES=1 refreshes the committed histories that test/unit/orchestration/replay.test.ts
  // replays on every `npm test` (see that file for when to record afresh).
  if (process.env.TESSEL_RECORD_HISTORIES === '1') {
    const dir = join(ROOT, 'test', 'fixtures', 'histories');
    mkdirSync(dir, { recursive: true });
    const kinds = ['segmentAndMeasure', 'processImage-fused', 'processImage-failed', 'processImage-stages'];
    // The CLI's JSON is the format historyFromJSON reads (the client's History objects come from another protobufjs).
    ids.forEach((workflowId, i) => writeFileSync(join(dir, `${kinds[i]}.json`), execFileSync(resolveTemporalBinary(),
      ['workflow', 'show', '--workflow-id', workflowId, '--address', env.TEMPORAL_ADDRESS!, '--output', 'json'])));
  }
  const results = Worker.runReplayHistories({ workflowsPath: require.resolve(join(ROOT, 'workflows')) }, histories);
  let count = 0;
  for await (const r of results) {
    expect(r.error).toBeUndefined();
    count++;
  }
  expect(count).toBe(4);
});
