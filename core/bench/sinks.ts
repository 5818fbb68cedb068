import { ConfigError } from '../errors';
import { DuckDbSink } from './duckdb';
import type { BenchmarkSink } from './schema';

export interface SinkConfig { sink: 'duckdb' | 'bigquery' | 'none'; duckdbPath?: string; bigqueryTable?: string }

/** The configured benchmark sink. BigQuery is loaded lazily so local runs never touch Google clients. */
export async function openSink(cfg: SinkConfig): Promise<BenchmarkSink | undefined> {
  if (cfg.sink === 'none') return undefined;
  if (cfg.sink === 'duckdb') {
    if (!cfg.duckdbPath) throw new ConfigError('benchmark sink duckdb needs a path');
    return new DuckDbSink(cfg.duckdbPath);
  }
  if (!cfg.bigqueryTable) throw new ConfigError('benchmark sink bigquery needs a table (project.dataset.table)');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { BigQuerySink } = require('./bigquery') as { BigQuerySink: new (table: string) => BenchmarkSink };
  return new BigQuerySink(cfg.bigqueryTable);
}
