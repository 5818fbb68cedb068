/**
 * The image's last activity, `record`: manifest first, then the benchmark row, with retries that
 * never write a second row for a manifest failure and never rewrite a manifest this run already wrote.
 * Real files and a real DuckDB file; Temporal's attempt number from MockActivityEnvironment.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRecord } from '../../../activities/record';
import { closeDuckDbFiles, DuckDbSink } from '../../../core/bench/duckdb';
import { manifestUri } from '../../../core/workspace/manifest';
import type { RecordInput, RecordResult, RunSettings } from '../../../core/contracts';

const record = makeRecord();
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-finish-'));
});
afterAll(() => closeDuckDbFiles());

function input(jobsDir: string): RecordInput {
  const imageUri = join(dir, 'a.ome.tiff');
  writeFileSync(imageUri, 'pixels');
  const settings: RunSettings = {
    channels: { combine: 'sum' }, model: { uri: '/m.zip', batchSize: 8, device: 'cpu' }, postprocess: { compartment: 'both' },
    quantify: { geojson: false, legacyNames: false }, benchmark: { sink: 'duckdb', duckdbPath: join(dir, 'b.duckdb') },
  };
  const result = { name: 'a', imageUri, status: 'failed' as const, failedStage: 'convert' as const, error: 'bad', stageSeconds: {} };
  return {
    manifest: { runId: 'run-1', jobsDir, result, settingsHash: 'h', intermediates: {} },
    benchmark: { runId: 'run-1', workflowId: 'run-1--a', settingsHash: 'h', image: { name: 'a', imageUri }, settings, result, metrics: {}, totalTimeS: 1 },
    manifestAttempts: 3,
  };
}

const rows = () => new DuckDbSink(join(dir, 'b.duckdb')).list({ runId: 'run-1' });

it('writes the manifest, then one row', async () => {
  const jobs = join(dir, 'jobs');
  await expect(new MockActivityEnvironment({ attempt: 1 }).run(record, input(jobs))).resolves.toEqual({});
  expect(JSON.parse(readFileSync(manifestUri(jobs, 'a'), 'utf8'))).toMatchObject({ runId: 'run-1', status: 'failed', error: 'bad' });
  expect(await rows()).toHaveLength(1);
});

it('retries a failing manifest write before writing any row, then writes the row without it', async () => {
  const blocked = join(dir, 'not-a-dir');
  writeFileSync(blocked, 'a file where the jobs folder should be');
  for (const attempt of [1, 2]) {
    await expect(new MockActivityEnvironment({ attempt }).run(record, input(blocked))).rejects.toThrow();
    expect(await rows()).toHaveLength(0);
  }
  const out = (await new MockActivityEnvironment({ attempt: 3 }).run(record, input(blocked))) as RecordResult;
  expect(out.manifestError).toMatch(/not-a-dir/);
  expect(await rows()).toHaveLength(1);
});

it("does not rewrite this run's manifest when a retry follows a failed row write", async () => {
  const jobs = join(dir, 'jobs');
  const first = input(jobs);
  first.benchmark.settings = { ...first.benchmark.settings, benchmark: { sink: 'duckdb', duckdbPath: join(dir, 'blocked', 'b.duckdb') } };
  writeFileSync(join(dir, 'blocked'), 'a file where the benchmark folder should be');
  await expect(new MockActivityEnvironment({ attempt: 1 }).run(record, first)).rejects.toThrow();
  const written = statSync(manifestUri(jobs, 'a')).mtimeMs;
  const before = readFileSync(manifestUri(jobs, 'a'), 'utf8');
  await new Promise((r) => setTimeout(r, 20));
  await expect(new MockActivityEnvironment({ attempt: 2 }).run(record, input(jobs))).resolves.toEqual({});
  expect(readFileSync(manifestUri(jobs, 'a'), 'utf8')).toBe(before);
  expect(statSync(manifestUri(jobs, 'a')).mtimeMs).toBe(written);
  expect(await rows()).toHaveLength(1);
});

it("rewrites another run's manifest on a retry", async () => {
  const jobs = join(dir, 'jobs');
  mkdirSync(join(jobs, 'manifests'), { recursive: true });
  writeFileSync(manifestUri(jobs, 'a'), JSON.stringify({ runId: 'older-run' }));
  await new MockActivityEnvironment({ attempt: 2 }).run(record, input(jobs));
  expect(JSON.parse(readFileSync(manifestUri(jobs, 'a'), 'utf8'))).toMatchObject({ runId: 'run-1' });
});
