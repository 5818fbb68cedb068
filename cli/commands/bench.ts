import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../core/errors';
import { openSink } from '../../core/bench/sinks';
import { BENCHMARK_COLUMNS, type BenchmarkRow } from '../../core/bench/schema';
import { activeEnvConfig } from '../env-config';
import { toInt } from '../run-input';

interface SinkOpts { workspace: string; duckdb?: string; sink?: 'duckdb' | 'bigquery'; bigqueryTable?: string; runId?: string; limit?: number }

function sinkOptions(cmd: Command): Command {
  return cmd
    .option('--workspace <root>', 'workspace whose BENCHMARKS/benchmarks.duckdb to read', '.')
    .option('--duckdb <file>', 'DuckDB file to read (overrides --workspace)')
    .addOption(new Option('--sink <sink>', 'where the rows are (default: the env config\'s benchmark sink, else duckdb)').choices(['duckdb', 'bigquery']))
    .option('--bigquery-table <table>', 'project.dataset.table for --sink bigquery')
    .option('--run-id <id>', 'only this run')
    .option('--limit <n>', 'at most this many rows', toInt);
}

async function readRows(o: SinkOpts): Promise<BenchmarkRow[]> {
  const cfg = activeEnvConfig()?.benchmark_sink;
  const kind = o.sink ?? (cfg?.kind === 'bigquery' ? 'bigquery' : 'duckdb');
  const table = o.bigqueryTable ?? (cfg?.kind === 'bigquery' ? cfg.table : undefined);
  if (kind === 'bigquery' && !table) throw new ConfigError('--sink bigquery needs --bigquery-table (or a BigQuery benchmark_sink in the env config)');
  const duckdbPath = o.duckdb ? resolve(o.duckdb) : join(resolve(o.workspace), 'BENCHMARKS', 'benchmarks.duckdb');
  const sink = (await openSink({ sink: kind, duckdbPath, bigqueryTable: table }))!;
  try {
    return await sink.list({ runId: o.runId, limit: o.limit });
  } finally {
    await sink.close();
  }
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function register(program: Command): void {
  const bench = program.command('bench').description('Read benchmark rows back from DuckDB (default) or BigQuery.');
  sinkOptions(bench.command('list').description('One line per image: run, image, success, pixels, cells, per-stage seconds.'))
    .action(async (o: SinkOpts) => {
      const rows = await readRows(o);
      const cols = ['run_id', 'input_file_id', 'success', 'pixels', 'cells', 'conversion_time_s', 'prediction_time_s', 'postprocessing_time_s', 'quantification_time_s', 'total_time_s', 'error'];
      process.stdout.write(cols.join('\t') + '\n');
      for (const r of rows) {
        process.stdout.write(cols.map((c) => (typeof r[c] === 'number' && !Number.isInteger(r[c]) ? (r[c] as number).toFixed(3) : r[c] ?? '')).join('\t') + '\n');
      }
      process.stderr.write(`${rows.length} row(s)\n`);
    });
  sinkOptions(bench.command('export').description('Every column of every row, as CSV (header first) or NDJSON.'))
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'ndjson']).default('csv'))
    .action(async (o: SinkOpts & { format: 'csv' | 'ndjson' }) => {
      const rows = await readRows(o);
      if (o.format === 'ndjson') for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        const cols = BENCHMARK_COLUMNS.map((c) => c.name);
        process.stdout.write(cols.join(',') + '\n');
        for (const r of rows) process.stdout.write(cols.map((c) => csvCell(r[c])).join(',') + '\n');
      }
    });
}
