import { ConfigError } from '../errors';
import type { BenchmarkSink } from './schema';

export interface SinkConfig { sink: 'duckdb' | 'bigquery' | 'none'; duckdbPath?: string; bigqueryTable?: string }

export const DUCKDB_NEEDS_LOCAL_FILE =
  'a DuckDB benchmarks file must be on a local (or shared) filesystem, not in a bucket: for a gs:// workspace use ' +
  '--benchmark-sink bigquery --bigquery-table project.dataset.table, or benchmark_sink.path in the env config, or --benchmark-sink none';

/**
 * The configured benchmark sink. Both are loaded lazily: local runs never touch Google clients, and
 * commands that only check the options (`tessel quantify`, `segment`…) never load DuckDB's native
 * library (~20 MB of resident memory in every such process).
 */
export async function openSink(cfg: SinkConfig): Promise<BenchmarkSink | undefined> {
  if (cfg.sink === 'none') return undefined;
  if (cfg.sink === 'duckdb') {
    if (!cfg.duckdbPath) throw new ConfigError('benchmark sink duckdb needs a path');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(cfg.duckdbPath)) throw new ConfigError(DUCKDB_NEEDS_LOCAL_FILE, { file: cfg.duckdbPath });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DuckDbSink } = require('./duckdb') as typeof import('./duckdb');
    return new DuckDbSink(cfg.duckdbPath);
  }
  if (!cfg.bigqueryTable) throw new ConfigError('benchmark sink bigquery needs a table (project.dataset.table)');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { BigQuerySink } = require('./bigquery') as { BigQuerySink: new (table: string) => BenchmarkSink };
  return new BigQuerySink(cfg.bigqueryTable);
}
