import { parseEnvConfig } from '../../../core/config/env';
import { applyEnvConfig } from '../../../cli/env-config';
import { buildRunInput, workspaceLocations, type RunCliOptions } from '../../../cli/run-input';

const base: RunCliOptions = {
  imageFilter: [], model: '/m.zip', combine: 'sum', compartment: 'both', batchSize: 8, device: 'cpu', maxConcurrent: 4, maxAttempts: 5, geojson: true,
};
const locations = workspaceLocations('/ws', {});

describe('env config applied to the environment', () => {
  it('fills unset Temporal and queue variables and leaves set ones alone', () => {
    const env: NodeJS.ProcessEnv = { TEMPORAL_NAMESPACE: 'from-env' };
    applyEnvConfig(parseEnvConfig({
      temporal: { address: 'temporal.example:7233', namespace: 'from-file', api_key: 'k' }, task_queues: { gpu: 'gpu-a100' },
    }), env);
    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_NAMESPACE: 'from-env', TEMPORAL_API_KEY: 'k',
      TESSEL_QUEUE_GPU: 'gpu-a100', TESSEL_QUEUE_CPU: 'tessel-cpu',
    });
    expect(env.TEMPORAL_TLS_CERT).toBeUndefined();
  });
});

describe('run settings: flags, then env config, then defaults', () => {
  it('defaults to DuckDB in the workspace', () => {
    const b = buildRunInput(locations, base).settings.benchmark;
    expect(b).toMatchObject({ sink: 'duckdb', duckdbPath: '/ws/BENCHMARKS/benchmarks.duckdb' });
    expect(b.bigqueryTable).toBeUndefined();
  });

  it("takes deepcell-imaging's bigquery_benchmarking_table and region from the env config", () => {
    const cfg = parseEnvConfig({ bigquery_benchmarking_table: 'proj.bench.rows', region: 'us-central1' });
    expect(buildRunInput(locations, base, cfg).settings.benchmark).toMatchObject({ sink: 'bigquery', bigqueryTable: 'proj.bench.rows', cloudRegion: 'us-central1' });
  });

  it('lets flags win over the env config', () => {
    const cfg = parseEnvConfig({ bigquery_benchmarking_table: 'proj.bench.rows', region: 'us-central1' });
    const b = buildRunInput(locations, { ...base, benchmarkSink: 'duckdb', cloudRegion: 'europe-west4' }, cfg).settings.benchmark;
    expect(b).toMatchObject({ sink: 'duckdb', cloudRegion: 'europe-west4', duckdbPath: '/ws/BENCHMARKS/benchmarks.duckdb' });
    expect(b.bigqueryTable).toBeUndefined();
  });

  it("uses the env config's DuckDB path and refuses BigQuery without a table", () => {
    const cfg = parseEnvConfig({ benchmark_sink: { kind: 'duckdb', path: '/data/bench.duckdb' } });
    expect(buildRunInput(locations, base, cfg).settings.benchmark.duckdbPath).toBe('/data/bench.duckdb');
    expect(() => buildRunInput(locations, { ...base, benchmarkSink: 'bigquery' })).toThrow(/--bigquery-table/);
  });
});
