/**
 * Benchmark rows: deepcell-imaging's 36 BigQuery columns (test/fixtures/deepcell-imaging/ lists them), in their order, then Tessel's
 * own. One row per image per run. Every column is nullable; a sink stores them all.
 */
export type ColumnType = 'STRING' | 'FLOAT' | 'INTEGER' | 'BOOLEAN' | 'DATETIME' | 'TIMESTAMP';
export interface ColumnDef { name: string; type: ColumnType; description: string }

const stageColumns = (prefix: string, stage: string): ColumnDef[] => [
  { name: `${prefix}instance_type`, type: 'STRING', description: `machine type that ran ${stage}` },
  { name: `${prefix}gpu_type`, type: 'STRING', description: `GPU model used for ${stage}, if any` },
  { name: `${prefix}num_gpus`, type: 'INTEGER', description: `GPUs used for ${stage}` },
  { name: `${prefix}success`, type: 'BOOLEAN', description: `${stage} succeeded` },
  { name: `${prefix}peak_memory_gb`, type: 'FLOAT', description: `peak resident memory of the worker process during ${stage}, GB` },
  { name: `${prefix}is_preemptible`, type: 'BOOLEAN', description: `${stage} ran on a preemptible/spot machine` },
  { name: `${prefix}input_load_time_s`, type: 'FLOAT', description: `seconds reading ${stage}'s input` },
  { name: `${prefix}time_s`, type: 'FLOAT', description: `seconds of ${stage}'s compute` },
  { name: `${prefix}output_write_time_s`, type: 'FLOAT', description: `seconds writing ${stage}'s output` },
];

/** deepcell-imaging's schema, column for column. */
export const DEEPCELL_IMAGING_COLUMNS: ColumnDef[] = [
  { name: 'input_file_id', type: 'STRING', description: 'image name (file basename cut at the first dot)' },
  { name: 'numpy_size_mb', type: 'FLOAT', description: 'size of the NPZ intermediate, MB' },
  { name: 'pixels', type: 'INTEGER', description: 'image pixels (H×W)' },
  { name: 'compartment', type: 'STRING', description: 'segmented compartments: both, whole-cell or nuclear' },
  { name: 'benchmark_datetime_utc', type: 'DATETIME', description: 'when the row was recorded (UTC)' },
  { name: 'success', type: 'BOOLEAN', description: 'the image completed every stage' },
  { name: 'cloud_region', type: 'STRING', description: 'region the run executed in' },
  ...stageColumns('preprocessing_', 'preprocessing'),
  ...stageColumns('prediction_', 'prediction'),
  ...stageColumns('postprocessing_', 'postprocessing'),
  { name: 'prediction_model_load_time_s', type: 'FLOAT', description: 'seconds loading the model (0 when the session was cached)' },
  { name: 'prediction_batch_size', type: 'INTEGER', description: 'tiles per inference batch' },
];

/** Tessel's additions. */
export const TESSEL_COLUMNS: ColumnDef[] = [
  { name: 'run_id', type: 'STRING', description: 'Tessel run id (parent workflow id)' },
  { name: 'workflow_id', type: 'STRING', description: 'per-image child workflow id' },
  { name: 'image_uri', type: 'STRING', description: 'source image URI' },
  { name: 'error', type: 'STRING', description: 'failure cause when success is false' },
  { name: 'failed_stage', type: 'STRING', description: 'stage that failed, when one did' },
  { name: 'width', type: 'INTEGER', description: 'image width, px' },
  { name: 'height', type: 'INTEGER', description: 'image height, px' },
  { name: 'um_per_pixel', type: 'FLOAT', description: 'calibration used (null when uncalibrated)' },
  { name: 'conversion_time_s', type: 'FLOAT', description: 'seconds converting OME-TIFF to NPZ' },
  { name: 'quantification_time_s', type: 'FLOAT', description: 'seconds of quantification' },
  { name: 'conversion_queue_wait_s', type: 'FLOAT', description: 'schedule-to-start of convert' },
  { name: 'prediction_queue_wait_s', type: 'FLOAT', description: 'schedule-to-start of predict' },
  { name: 'postprocessing_queue_wait_s', type: 'FLOAT', description: 'schedule-to-start of postprocess' },
  { name: 'quantification_queue_wait_s', type: 'FLOAT', description: 'schedule-to-start of quantify' },
  { name: 'conversion_attempts', type: 'INTEGER', description: 'attempts of convert' },
  { name: 'prediction_attempts', type: 'INTEGER', description: 'attempts of predict' },
  { name: 'postprocessing_attempts', type: 'INTEGER', description: 'attempts of postprocess' },
  { name: 'quantification_attempts', type: 'INTEGER', description: 'attempts of quantify' },
  { name: 'prediction_worker', type: 'STRING', description: 'identity of the worker that ran predict' },
  { name: 'cpu_worker', type: 'STRING', description: 'identity of the worker that ran postprocess' },
  { name: 'model_name', type: 'STRING', description: 'segmentation model name and version' },
  { name: 'model_sha256', type: 'STRING', description: 'SHA-256 of the model collection' },
  { name: 'prediction_device', type: 'STRING', description: 'execution provider used: cpu or cuda' },
  { name: 'tiles', type: 'INTEGER', description: 'model tiles run' },
  { name: 'cells', type: 'INTEGER', description: 'whole-cell objects found' },
  { name: 'nuclei', type: 'INTEGER', description: 'nuclear objects found' },
  { name: 'gpu_memory_gb', type: 'FLOAT', description: 'GPU memory reserved for predict, where known' },
  { name: 'total_time_s', type: 'FLOAT', description: 'wall time of the image from first activity start to record' },
  { name: 'estimated_cost_usd', type: 'FLOAT', description: 'estimated cost from the configured price table' },
  { name: 'classifier_sha256', type: 'STRING', description: 'SHA-256 of the cell classifier collection, when the run classified cells' },
  { name: 'class_counts', type: 'STRING', description: 'cells per class as JSON, e.g. {"CD3+":120,"other":880}' },
  { name: 'classification_time_s', type: 'FLOAT', description: 'seconds of the classify stage' },
  { name: 'classification_queue_wait_s', type: 'FLOAT', description: 'schedule-to-start of classify' },
  { name: 'classification_attempts', type: 'INTEGER', description: 'attempts of classify' },
  // Added for `tessel dashboard` (timeline, failures by type, run identity); older tables get them on open.
  { name: 'error_type', type: 'STRING', description: 'error code of the failure (e.g. INVALID_IMAGE), when success is false' },
  { name: 'settings_hash', type: 'STRING', description: 'hash of the settings that change outputs (channels, model, postprocess, quantify)' },
  { name: 'command_line', type: 'STRING', description: 'the tessel command line that started the run' },
  { name: 'conversion_started_at', type: 'DATETIME', description: 'when convert started (UTC); its queue wait ends here' },
  { name: 'prediction_started_at', type: 'DATETIME', description: 'when predict started (UTC)' },
  { name: 'postprocessing_started_at', type: 'DATETIME', description: 'when postprocess started (UTC)' },
  { name: 'quantification_started_at', type: 'DATETIME', description: 'when quantify started (UTC)' },
  { name: 'quantification_input_load_time_s', type: 'FLOAT', description: 'seconds of quantify reading masks and image (part of quantification_time_s)' },
  { name: 'quantification_output_write_time_s', type: 'FLOAT', description: 'seconds of quantify writing reports (part of quantification_time_s)' },
  { name: 'record_started_at', type: 'DATETIME', description: 'when the record stage (manifest, then this row) started (UTC)' },
  { name: 'record_time_s', type: 'FLOAT', description: 'seconds of the record stage before this row was written (the manifest)' },
];

export const BENCHMARK_COLUMNS: ColumnDef[] = [...DEEPCELL_IMAGING_COLUMNS, ...TESSEL_COLUMNS];

export type BenchmarkValue = string | number | boolean | null;
export type BenchmarkRow = Record<string, BenchmarkValue>;

export interface BenchmarkSink {
  write(rows: BenchmarkRow[]): Promise<void>;
  list(opts?: { runId?: string; limit?: number }): Promise<BenchmarkRow[]>;
  close(): Promise<void>;
}

/** Keeps only known columns, filling the rest with null, so every sink sees the full schema. */
export function normalizeRow(row: Partial<BenchmarkRow>): BenchmarkRow {
  const out: BenchmarkRow = {};
  for (const c of BENCHMARK_COLUMNS) {
    const v = row[c.name];
    out[c.name] = v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v;
  }
  return out;
}
