/**
 * `fused`, the activity that runs a small image's postprocess, quantify and record in one go:
 * the same masks, table, manifest and row as the three activities one after another; a failure names its
 * stage; a record failure retries the activity until the last attempt, which returns it instead of failing
 * the image. Real files (a synthetic image through the real convert and predict activities), a real DuckDB
 * file, Temporal's attempt number from MockActivityEnvironment.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../../activities';
import { closeDuckDbFiles, DuckDbSink } from '../../../core/bench/duckdb';
import { ensureReferenceModel } from '../../../core/reference';
import { writeSyntheticWorkspace } from '../../../core/synth';
import { manifestUri } from '../../../core/workspace/manifest';
import type { ConvertResult, FusedInput, FusedResult, ImageResult, PostprocessResult, PredictResult, QuantifyResult, RunSettings } from '../../../core/contracts';

const acts = createActivities();
let dir: string;
let imageUri: string;
let settings: RunSettings;
let convert: ConvertResult;
let predict: PredictResult;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessel-fused-'));
  const { images } = await writeSyntheticWorkspace(join(dir, 'ws'), { images: 1, size: 96, channels: 4, seed: 21 });
  imageUri = images[0].imageUri;
  const model = await ensureReferenceModel();
  settings = {
    channels: { combine: 'sum' }, model: { uri: model, batchSize: 4, device: 'cpu' }, postprocess: { compartment: 'both' },
    quantify: { geojson: false, legacyNames: false }, benchmark: { sink: 'duckdb', duckdbPath: join(dir, 'b.duckdb') },
  };
  const env = new MockActivityEnvironment({ attempt: 1 });
  convert = (await env.run(acts.convert, { imageUri, npzUri: join(dir, 'a.npz'), channels: settings.channels })) as ConvertResult;
  predict = (await env.run(acts.predict, { npzUri: join(dir, 'a.npz'), predictionsUri: join(dir, 'pred.npz'), model: settings.model })) as PredictResult;
}, 120_000);
afterAll(() => closeDuckDbFiles());

function input(out: string, runId = 'run-1'): FusedInput {
  const outputs = {
    npzUri: join(dir, 'a.npz'), predictionsUri: join(dir, 'pred.npz'), wholeCellMaskUri: join(out, 'a_WholeCellMask.tiff'),
    nucleusMaskUri: join(out, 'a_NucleusMask.tiff'), tsvUri: join(out, 'a_QUANT.tsv'),
  };
  const result: ImageResult = { name: 'a', imageUri, status: 'done', stageSeconds: { convert: 0.1, predict: 0.2 }, outputs };
  return {
    postprocess: { predictionsUri: outputs.predictionsUri, outDir: out, name: 'a', postprocess: settings.postprocess },
    quantify: {
      imageUri, imageName: 'a', wholeCellMaskUri: outputs.wholeCellMaskUri, nucleusMaskUri: outputs.nucleusMaskUri,
      tsvUri: outputs.tsvUri, legacyNames: false,
    },
    result, metrics: { convert, predict },
    manifest: { runId, jobsDir: join(out, 'jobs'), settingsHash: 'h', intermediates: { npzUri: outputs.npzUri, predictionsUri: outputs.predictionsUri } },
    benchmark: { runId, workflowId: `${runId}--a`, settingsHash: 'h', image: { name: 'a', imageUri }, settings },
    startedAtMs: Date.now() - 1000, maxAttempts: 3,
  };
}

const rows = (runId: string) => new DuckDbSink(join(dir, 'b.duckdb')).list({ runId });

it('writes what postprocess, quantify and record write one after another: masks, table, manifest, one row', async () => {
  const sep = join(dir, 'separate');
  const one = input(sep, 'run-sep');
  const env = new MockActivityEnvironment({ attempt: 1 });
  const pp = (await env.run(acts.postprocess, one.postprocess)) as PostprocessResult;
  const q = (await env.run(acts.quantify, one.quantify)) as QuantifyResult;

  const fused = join(dir, 'fused');
  const out = (await env.run(acts.fused, input(fused, 'run-fused'))) as FusedResult;
  expect(out.record).toEqual({ status: 'done' });
  expect(out.postprocess.cells).toBe(pp.cells);
  expect(out.postprocess.cells).toBeGreaterThan(3);
  expect(out.quantify.cells).toBe(q.cells);
  expect(out.quantify.queueWaitS).toBe(0);
  for (const f of ['a_WholeCellMask.tiff', 'a_NucleusMask.tiff', 'a_QUANT.tsv']) {
    expect(readFileSync(join(fused, f)).equals(readFileSync(join(sep, f)))).toBe(true);
  }
  const manifest = JSON.parse(readFileSync(manifestUri(join(fused, 'jobs'), 'a'), 'utf8')) as { status: string; outputs: Record<string, unknown> };
  expect(manifest.status).toBe('done');
  expect(Object.keys(manifest.outputs).sort()).toEqual(['npz', 'nucleusMask', 'tsv', 'wholeCellMask'].sort());
  const r = await rows('run-fused');
  expect(r).toHaveLength(1);
  expect(r[0]).toMatchObject({ success: true, postprocessing_success: true });
  expect(Number(r[0].cells)).toBe(q.cells);
  expect(Number(r[0].postprocessing_time_s)).toBeGreaterThan(0);
  expect(Number(r[0].quantification_time_s)).toBeGreaterThan(0);
});

it('names the stage that failed, keeping the failure\'s type and retryability', async () => {
  const env = new MockActivityEnvironment({ attempt: 1 });
  const noPredictions = input(join(dir, 'f1'));
  noPredictions.postprocess.predictionsUri = join(dir, 'missing.npz');
  const e1 = await env.run(acts.fused, noPredictions).catch((e: unknown) => e);
  expect(e1).toBeInstanceOf(ApplicationFailure);
  expect((e1 as ApplicationFailure).details).toContainEqual({ stage: 'postprocess' });
  expect((e1 as ApplicationFailure).message).toMatch(/missing\.npz/);

  const notAnImage = input(join(dir, 'f2'));
  writeFileSync(join(dir, 'junk.ome.tiff'), 'not a TIFF');
  notAnImage.quantify.imageUri = join(dir, 'junk.ome.tiff');
  const e2 = await env.run(acts.fused, notAnImage).catch((e: unknown) => e);
  expect(e2).toBeInstanceOf(ApplicationFailure);
  expect((e2 as ApplicationFailure).details).toContainEqual({ stage: 'quantify' });
  expect((e2 as ApplicationFailure).nonRetryable).toBe(true);
  expect((e2 as ApplicationFailure).type).toBe('INVALID_IMAGE');
});

it('retries a failing row write until the last attempt, which returns the record as failed', async () => {
  const blocked = join(dir, 'blocked');
  writeFileSync(blocked, 'a file where the benchmark folder should be');
  const withBlockedSink = (runId: string) => {
    const i = input(join(dir, `r-${runId}`), runId);
    i.benchmark.settings = { ...settings, benchmark: { sink: 'duckdb', duckdbPath: join(blocked, 'b.duckdb') } };
    return i;
  };
  const e = await new MockActivityEnvironment({ attempt: 1 }).run(acts.fused, withBlockedSink('run-r1')).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ApplicationFailure);
  expect((e as ApplicationFailure).details).toContainEqual({ stage: 'record' });
  const last = (await new MockActivityEnvironment({ attempt: 3 }).run(acts.fused, withBlockedSink('run-r3'))) as FusedResult;
  expect(last.record.status).toBe('failed');
  expect(last.quantify.cells).toBeGreaterThan(3);
  rmSync(blocked);
});
