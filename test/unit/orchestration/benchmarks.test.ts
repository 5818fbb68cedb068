import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { closeDuckDbFiles, DuckDbSink } from '../../../core/bench/duckdb';
import { buildBenchmarkRow } from '../../../core/record/row';
import { BENCHMARK_COLUMNS, DEEPCELL_IMAGING_COLUMNS } from '../../../core/bench/schema';
import type { ConvertResult, RunSettings } from '../../../core/contracts';
import { commandLineOf } from '../../../cli/run-input';

const settings: RunSettings = {
  channels: { combine: 'sum' }, model: { uri: '/m.zip', batchSize: 8, device: 'cpu' }, postprocess: { compartment: 'both' },
  quantify: { geojson: true, legacyNames: false }, benchmark: { sink: 'duckdb', cloudRegion: 'local' },
};
const convert: ConvertResult = {
  stage: 'convert', startedAtMs: 0, inputLoadS: 0.5, timeS: 1, outputWriteS: 0.25, peakMemoryGb: 0.3, queueWaitS: 0.1, attempt: 1,
  worker: 'w1', instanceType: 'n2-standard-8', width: 100, height: 50, umPerPixel: 0.5, calibrated: true, npzBytes: 2_000_000,
  nuclearChannels: ['DAPI'], membraneChannels: ['PanCK'],
};

afterAll(() => closeDuckDbFiles());

describe('benchmark rows', () => {
  it("has deepcell-imaging's 36 columns first, with their names and types, then Tessel's", () => {
    // The peer's published schema (test/fixtures/deepcell-imaging/README.md), and the schema file Tessel ships.
    const peer = JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'deepcell-imaging', 'bigquery-schema.json'), 'utf8')) as { name: string; type: string }[];
    const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'infra', 'bigquery', 'schema.json'), 'utf8')) as { name: string; type: string }[];
    const nameType = (c: { name: string; type: string }) => `${c.name}:${c.type}`;
    expect(peer).toHaveLength(36);
    expect(DEEPCELL_IMAGING_COLUMNS.map(nameType)).toEqual(peer.map(nameType));
    expect(shipped.slice(0, 36).map(nameType)).toEqual(peer.map(nameType));
    expect(BENCHMARK_COLUMNS.slice(0, 36)).toEqual(DEEPCELL_IMAGING_COLUMNS);
    expect(new Set(BENCHMARK_COLUMNS.map((c) => c.name)).size).toBe(BENCHMARK_COLUMNS.length);
  });

  it('records a failed image with the failing stage and cause, and estimates cost from the price table', () => {
    const row = buildBenchmarkRow({
      runId: 'r', workflowId: 'r--a', settingsHash: 'h', image: { name: 'a', imageUri: '/x/a.tiff' }, settings,
      result: { name: 'a', imageUri: '/x/a.tiff', status: 'failed', failedStage: 'predict', error: 'boom', stageSeconds: {} },
      metrics: { convert }, totalTimeS: 3, priceTable: { 'n2-standard-8': 3600 },
    });
    expect(row.success).toBe(false);
    expect(row.preprocessing_success).toBe(true);
    expect(row.prediction_success).toBe(false);
    expect(row.postprocessing_success).toBeNull();
    expect(row.pixels).toBe(5000);
    expect(row.numpy_size_mb).toBeCloseTo(2);
    expect(row.conversion_time_s).toBeCloseTo(1.75);
    expect(row.estimated_cost_usd).toBeCloseTo(1.75);
    expect(row.failed_stage).toBe('predict');
    expect(row.error).toBe('boom');
    expect(Object.keys(row)).toEqual(BENCHMARK_COLUMNS.map((c) => c.name));
  });

  it("records each stage's start, the record stage's time, the error type, settings hash and command line", () => {
    const row = buildBenchmarkRow({
      runId: 'r', workflowId: 'r--a', image: { name: 'a', imageUri: '/x/a.tiff' }, settingsHash: 'abc123',
      settings: { ...settings, benchmark: { ...settings.benchmark, commandLine: commandLineOf(['node', 'main.ts', 'run', 'workspace', "/data/it's here"]) } },
      result: { name: 'a', imageUri: '/x/a.tiff', status: 'failed', failedStage: 'predict', error: 'boom', errorType: 'MODEL_CONTRACT', stageSeconds: {} },
      metrics: { convert: { ...convert, startedAtMs: Date.parse('2024-05-06T07:08:09.123Z') } }, totalTimeS: 3,
      recordStartedAtMs: Date.parse('2024-05-06T07:08:20.000Z'), now: new Date('2024-05-06T07:08:20.250Z'),
    });
    expect(row).toMatchObject({
      conversion_started_at: '2024-05-06 07:08:09.123', prediction_started_at: null, record_started_at: '2024-05-06 07:08:20.000', record_time_s: 0.25,
      error_type: 'MODEL_CONTRACT', settings_hash: 'abc123', command_line: "tessel run workspace '/data/it'\\''s here'",
    });
  });

  it('round-trips rows through DuckDB, concurrently, filtered by run', async () => {
    const sink = new DuckDbSink(join(mkdtempSync(join(tmpdir(), 'tessel-duck-')), 'b.duckdb'));
    const base = buildBenchmarkRow({
      runId: 'r1', workflowId: 'w', settingsHash: 'h', image: { name: 'a', imageUri: '/a' }, settings,
      result: { name: 'a', imageUri: '/a', status: 'done', stageSeconds: {} }, metrics: { convert }, totalTimeS: 2,
    });
    await Promise.all([
      sink.write([base]),
      sink.write([{ ...base, input_file_id: 'b' }]),
      sink.write([{ ...base, input_file_id: 'c', run_id: 'r2' }]),
    ]);
    const rows = await sink.list({ runId: 'r1' });
    expect(rows.map((r) => r.input_file_id).sort()).toEqual(['a', 'b']);
    expect(rows[0].pixels).toBe(5000);
    expect(rows[0].success).toBe(true);
    expect((await sink.list()).length).toBe(3);
  });

  it('keeps one row per run, image and compartment: a retried write replaces it', async () => {
    const sink = new DuckDbSink(join(mkdtempSync(join(tmpdir(), 'tessel-duck-')), 'b.duckdb'));
    const row = (totalTimeS: number, compartment: RunSettings['postprocess']['compartment'] = 'both') => buildBenchmarkRow({
      runId: 'r1', workflowId: 'w', settingsHash: 'h', image: { name: 'a', imageUri: '/a' }, settings: { ...settings, postprocess: { compartment } },
      result: { name: 'a', imageUri: '/a', status: 'done', stageSeconds: {} }, metrics: { convert }, totalTimeS,
    });
    await sink.write([row(1)]);
    await sink.write([row(2)]); // the record activity, retried
    await sink.write([row(3, 'nuclear')]);
    const rows = await sink.list({ runId: 'r1' });
    expect(rows.map((r) => [r.compartment, r.total_time_s]).sort()).toEqual([['both', 2], ['nuclear', 3]]);
    expect(await sink.list({ runId: "r1' OR '1'='1" })).toEqual([]);
  });

  it('de-duplicates a file written before rows had a key, keeping the latest', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tessel-duck-')), 'b.duckdb');
    const db = await DuckDBInstance.create(path);
    const conn = await db.connect();
    await conn.run('CREATE TABLE benchmarks (run_id VARCHAR, input_file_id VARCHAR, compartment VARCHAR, total_time_s DOUBLE)');
    await conn.run("INSERT INTO benchmarks VALUES ('r1', 'a', 'both', 1), ('r1', 'a', 'both', 2), ('r1', 'b', 'both', 5)");
    conn.closeSync();
    db.closeSync();
    const rows = await new DuckDbSink(path).list({ runId: 'r1' });
    expect(rows.map((r) => [r.input_file_id, r.total_time_s]).sort()).toEqual([['a', 2], ['b', 5]]);
  });
});
