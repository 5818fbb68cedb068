import { readFileSync } from 'node:fs';
import { renderSchemaJson, SCHEMA_JSON_PATH } from '../../../infra/bigquery/generate-schema';
import { BENCHMARK_COLUMNS } from '../../../core/bench/schema';
import { insertIdFor, parseTableRef } from '../../../core/bench/bigquery';

describe('infra/bigquery/schema.json', () => {
  test('is current with BENCHMARK_COLUMNS (regenerate: npx tsx infra/bigquery/generate-schema.ts)', () => {
    expect(readFileSync(SCHEMA_JSON_PATH, 'utf8')).toBe(renderSchemaJson());
  });

  test("starts with deepcell-imaging's 36 columns, all NULLABLE, names unique", () => {
    const fields = JSON.parse(readFileSync(SCHEMA_JSON_PATH, 'utf8')) as { name: string; type: string; mode: string }[];
    expect(fields.slice(0, 7).map((f) => `${f.name}:${f.type}`)).toEqual(['input_file_id:STRING', 'numpy_size_mb:FLOAT',
      'pixels:INTEGER', 'compartment:STRING', 'benchmark_datetime_utc:DATETIME', 'success:BOOLEAN', 'cloud_region:STRING']);
    expect(fields.filter((f) => /^(preprocessing|prediction|postprocessing)_/.test(f.name)).length).toBeGreaterThanOrEqual(29);
    expect(fields[34].name).toBe('prediction_model_load_time_s');
    expect(fields[35].name).toBe('prediction_batch_size');
    expect(fields.every((f) => f.mode === 'NULLABLE')).toBe(true);
    expect(new Set(fields.map((f) => f.name)).size).toBe(BENCHMARK_COLUMNS.length);
  });
});

describe('BigQuery sink helpers', () => {
  test('table references', () => {
    expect(parseTableRef('deepcell-on-batch.benchmarking.results_batch')).toEqual({ projectId: 'deepcell-on-batch', datasetId: 'benchmarking', tableId: 'results_batch' });
    expect(parseTableRef('example.com:proj.ds.t')).toEqual({ projectId: 'example.com:proj', datasetId: 'ds', tableId: 't' });
    expect(parseTableRef('ds.t')).toEqual({ projectId: undefined, datasetId: 'ds', tableId: 't' });
    expect(() => parseTableRef('just-a-table')).toThrow(/invalid BigQuery table 'just-a-table'/);
    expect(() => parseTableRef('p.d.t; DROP')).toThrow(/invalid BigQuery table/);
  });

  test('insert ids: one per image per run, independent of the timestamp; distinct across images', () => {
    const a = { run_id: 'r1', workflow_id: 'r1/img1', input_file_id: 'img1', compartment: 'both', benchmark_datetime_utc: '2024-01-01 00:00:00' };
    const retried = { ...a, benchmark_datetime_utc: '2024-01-01 00:00:07', total_time_s: 9 };
    expect(insertIdFor(a)).toBe(insertIdFor(retried));
    expect(insertIdFor(a)).not.toBe(insertIdFor({ ...a, input_file_id: 'img2', workflow_id: 'r1/img2' }));
    expect(insertIdFor(a)).not.toBe(insertIdFor({ ...a, run_id: 'r2' }));
    expect(insertIdFor(a)).toMatch(/^[0-9a-f]{32}$/);
  });
});
