import { BENCHMARK_COLUMNS, type ColumnType } from '../bench/schema';
import type { DashboardStage } from './model';

/**
 * The few places where DuckDB's SQL and BigQuery's GoogleSQL differ for the dashboard's queries; every
 * query is written once, in the subset both accept, with these filled in.
 */
export interface Dialect {
  readonly kind: 'duckdb' | 'bigquery';
  /** The benchmark table, quoted for a FROM clause. */
  readonly table: string;
  /** A DATETIME (UTC, no zone) as epoch milliseconds. */
  epochMs(expr: string): string;
  /** A DATETIME's UTC day as 'YYYY-MM-DD'. */
  day(expr: string): string;
  /** A string literal. */
  str(value: string): string;
  /** A typed NULL, or a cast. */
  cast(expr: string, type: ColumnType): string;
}

const DUCKDB_TYPES: Record<ColumnType, string> = { STRING: 'VARCHAR', FLOAT: 'DOUBLE', INTEGER: 'BIGINT', BOOLEAN: 'BOOLEAN', DATETIME: 'TIMESTAMP', TIMESTAMP: 'TIMESTAMPTZ' };
const BIGQUERY_TYPES: Record<ColumnType, string> = { STRING: 'STRING', FLOAT: 'FLOAT64', INTEGER: 'INT64', BOOLEAN: 'BOOL', DATETIME: 'DATETIME', TIMESTAMP: 'TIMESTAMP' };

export function duckDbDialect(table = 'benchmarks'): Dialect {
  return {
    kind: 'duckdb',
    table: `"${table.replace(/"/g, '""')}"`,
    epochMs: (e) => `epoch_ms(${e})`,
    day: (e) => `strftime(${e}, '%Y-%m-%d')`,
    str: (v) => `'${v.replace(/'/g, "''")}'`,
    cast: (e, t) => `CAST(${e} AS ${DUCKDB_TYPES[t]})`,
  };
}

/** `qualifiedTable` is `project.dataset.table`. */
export function bigQueryDialect(qualifiedTable: string): Dialect {
  return {
    kind: 'bigquery',
    table: `\`${qualifiedTable.replace(/`/g, '')}\``,
    // TIMESTAMP(datetime) reads the DATETIME as UTC, which is what the rows hold.
    epochMs: (e) => `UNIX_MILLIS(TIMESTAMP(${e}))`,
    day: (e) => `CAST(CAST(${e} AS DATE) AS STRING)`,
    str: (v) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`,
    cast: (e, t) => `CAST(${e} AS ${BIGQUERY_TYPES[t]})`,
  };
}

/** Without these a table is not a benchmark table at all; any other missing column reads as NULL. */
export const REQUIRED_COLUMNS = ['run_id', 'input_file_id', 'success', 'benchmark_datetime_utc'] as const;

/** The benchmark columns the dashboard reads. */
export const DASHBOARD_COLUMNS = [
  'run_id', 'input_file_id', 'image_uri', 'success', 'benchmark_datetime_utc', 'pixels', 'cells', 'total_time_s', 'failed_stage', 'error', 'error_type',
  'command_line', 'settings_hash', 'model_name', 'prediction_worker', 'cpu_worker',
  ...['preprocessing_', 'prediction_', 'postprocessing_'].flatMap((p) => ['instance_type', 'gpu_type', 'num_gpus', 'peak_memory_gb', 'input_load_time_s', 'time_s', 'output_write_time_s'].map((c) => p + c)),
  'quantification_time_s', 'quantification_input_load_time_s', 'quantification_output_write_time_s', 'record_time_s',
  ...['conversion_', 'prediction_', 'postprocessing_', 'quantification_'].flatMap((p) => [`${p}queue_wait_s`, `${p}attempts`, `${p}started_at`]),
  'record_started_at',
];

/** How each stage's values are read from the wide row (deepcell-imaging's column names, then Tessel's). */
interface StageColumns {
  stage: DashboardStage;
  queue: 'cpu' | 'gpu';
  /** True when the stage ran for the row. */
  present: string;
  machine: string;
  gpu: string;
  numGpus: string;
  load: string;
  compute: string;
  write: string;
  /** The y of the megapixels-vs-time fit: compute seconds (the record stage has only its write). */
  fit: string;
  wait: string;
  attempts: string;
  memory: string;
  startedMs: string;
  worker: string;
}

const NULL = 'NULL';
/** Quantify and record run on the CPU queue; the row names one CPU machine, postprocess's (convert's when postprocess did not run). */
const CPU_MACHINE = 'COALESCE(postprocessing_instance_type, preprocessing_instance_type)';

export const STAGE_COLUMNS: readonly StageColumns[] = [
  {
    stage: 'convert', queue: 'cpu', present: 'preprocessing_time_s IS NOT NULL', machine: 'preprocessing_instance_type', gpu: 'preprocessing_gpu_type',
    numGpus: 'preprocessing_num_gpus', load: 'preprocessing_input_load_time_s', compute: 'preprocessing_time_s', write: 'preprocessing_output_write_time_s',
    fit: 'preprocessing_time_s', wait: 'conversion_queue_wait_s', attempts: 'conversion_attempts', memory: 'preprocessing_peak_memory_gb', startedMs: 'conv_ms', worker: NULL,
  },
  {
    stage: 'predict', queue: 'gpu', present: 'prediction_time_s IS NOT NULL', machine: 'prediction_instance_type', gpu: 'prediction_gpu_type',
    numGpus: 'prediction_num_gpus', load: 'prediction_input_load_time_s', compute: 'prediction_time_s', write: 'prediction_output_write_time_s',
    fit: 'prediction_time_s', wait: 'prediction_queue_wait_s', attempts: 'prediction_attempts', memory: 'prediction_peak_memory_gb', startedMs: 'pred_ms', worker: 'prediction_worker',
  },
  {
    stage: 'postprocess', queue: 'cpu', present: 'postprocessing_time_s IS NOT NULL', machine: 'postprocessing_instance_type', gpu: 'postprocessing_gpu_type',
    numGpus: 'postprocessing_num_gpus', load: 'postprocessing_input_load_time_s', compute: 'postprocessing_time_s', write: 'postprocessing_output_write_time_s',
    fit: 'postprocessing_time_s', wait: 'postprocessing_queue_wait_s', attempts: 'postprocessing_attempts', memory: 'postprocessing_peak_memory_gb', startedMs: 'post_ms', worker: 'cpu_worker',
  },
  {
    // quantification_time_s is the whole stage; its load and write are recorded beside it since the dashboard.
    stage: 'quantify', queue: 'cpu', present: 'quantification_time_s IS NOT NULL', machine: CPU_MACHINE, gpu: NULL, numGpus: NULL,
    load: 'quantification_input_load_time_s', write: 'quantification_output_write_time_s',
    compute: 'quantification_time_s - COALESCE(quantification_input_load_time_s, 0) - COALESCE(quantification_output_write_time_s, 0)',
    fit: 'quantification_time_s - COALESCE(quantification_input_load_time_s, 0) - COALESCE(quantification_output_write_time_s, 0)',
    wait: 'quantification_queue_wait_s', attempts: 'quantification_attempts', memory: NULL, startedMs: 'quant_ms', worker: 'cpu_worker',
  },
  {
    stage: 'record', queue: 'cpu', present: 'record_time_s IS NOT NULL', machine: CPU_MACHINE, gpu: NULL, numGpus: NULL,
    load: NULL, compute: NULL, write: 'record_time_s', fit: 'record_time_s', wait: NULL, attempts: NULL, memory: NULL, startedMs: 'rec_ms', worker: NULL,
  },
];

/** A CASE expression giving USD per hour for a machine-type expression (NULL for machines without a price). */
export function priceCase(d: Dialect, machine: string, prices: Readonly<Record<string, number | null>>): string {
  const known = Object.entries(prices).filter((e): e is [string, number] => e[1] !== null);
  if (known.length === 0) return d.cast(NULL, 'FLOAT');
  return `CASE ${machine} ${known.map(([m, p]) => `WHEN ${d.str(m)} THEN ${p}`).join(' ')} ELSE ${d.cast(NULL, 'FLOAT')} END`;
}

const stageSeconds = (s: StageColumns) => [s.load, s.compute, s.write].map((e) => `COALESCE(${e}, 0)`).join(' + ');

export interface BaseOptions {
  /** Columns the table has; any other dashboard column reads as NULL. */
  columns: ReadonlySet<string>;
  /** Only these runs (all when absent). */
  runs?: readonly string[];
  prices: Readonly<Record<string, number | null>>;
}

/**
 * `WITH b AS (the rows, every dashboard column present), r AS (+ days, epoch ms, per-image cost),
 * s AS (one row per image per stage that ran), st AS (+ seconds and price)`: the start of every query.
 */
export function baseCtes(d: Dialect, o: BaseOptions): string {
  const types = new Map(BENCHMARK_COLUMNS.map((c) => [c.name, c.type]));
  const cols = DASHBOARD_COLUMNS.map((c) => {
    const v = o.columns.has(c) ? c : d.cast(NULL, types.get(c)!);
    return c === 'run_id' ? `COALESCE(${v}, '(none)') AS run_id` : `${v} AS ${c}`;
  });
  const where = o.runs && o.runs.length > 0 ? `WHERE COALESCE(run_id, '(none)') IN (${o.runs.map((r) => d.str(r)).join(', ')})` : '';
  const price = (machine: string) => priceCase(d, machine, o.prices);
  const ms = (c: string) => d.epochMs(c);
  const cost = STAGE_COLUMNS.map((s) => `COALESCE((${stageSeconds(s)}) * ${price(s.machine)}, 0)`).join(' + ');
  const unpriced = STAGE_COLUMNS.map((s) => `CASE WHEN ${price(s.machine)} IS NULL THEN ${stageSeconds(s)} ELSE 0 END`).join(' + ');
  const queued = (started: string, wait: string) => `${started} - 1000 * COALESCE(${wait}, 0)`;
  const stageSelects = STAGE_COLUMNS.map((s) => `SELECT run_id, input_file_id AS image, day, ${d.str(s.stage)} AS stage, ${d.str(s.queue)} AS queue,
      COALESCE(${s.machine}, '(unknown)') AS machine, COALESCE(${s.gpu === NULL ? d.cast(NULL, 'STRING') : s.gpu}, '(none)') AS gpu,
      COALESCE(${s.numGpus}, 0) AS num_gpus, COALESCE(${s.load}, 0) AS load_s, COALESCE(${s.compute}, 0) AS compute_s, COALESCE(${s.write}, 0) AS write_s,
      ${d.cast(s.fit, 'FLOAT')} AS fit_s, ${d.cast(s.wait, 'FLOAT')} AS wait_s, ${d.cast(s.attempts, 'INTEGER')} AS attempts, ${d.cast(s.memory, 'FLOAT')} AS mem_gb,
      ${d.cast(s.startedMs, 'FLOAT')} AS started_ms, ${d.cast(s.worker, 'STRING')} AS worker, pixels / 1e6 AS mpx, recorded_ms
    FROM r WHERE ${s.present}`).join('\n    UNION ALL\n    ');
  return `WITH b AS (
    SELECT ${cols.join(', ')} FROM ${d.table} ${where}
  ), r0 AS (
    SELECT b.*, ${d.day('benchmark_datetime_utc')} AS day, ${ms('benchmark_datetime_utc')} AS recorded_ms,
      ${ms('conversion_started_at')} AS conv_ms, ${ms('prediction_started_at')} AS pred_ms, ${ms('postprocessing_started_at')} AS post_ms,
      ${ms('quantification_started_at')} AS quant_ms, ${ms('record_started_at')} AS rec_ms,
      COALESCE(prediction_gpu_type, '(none)') AS gpu
    FROM b
  ), r AS (
    SELECT r0.*, (${cost}) / 3600 AS image_cost, ${unpriced} AS image_unpriced_s,
      COALESCE(${queued('conv_ms', 'conversion_queue_wait_s')}, ${queued('pred_ms', 'prediction_queue_wait_s')},
        ${queued('post_ms', 'postprocessing_queue_wait_s')}, ${queued('quant_ms', 'quantification_queue_wait_s')}, rec_ms) AS first_ms
    FROM r0
  ), s AS (
    ${stageSelects}
  ), st AS (
    SELECT s.*, load_s + compute_s + write_s AS seconds, ${price('machine')} AS usd_per_hour FROM s
  )`;
}
