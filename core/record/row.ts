import { normalizeRow, type BenchmarkRow } from '../bench/schema';
import type { BenchmarkInput, StageMetrics } from '../contracts';

export interface RowInput extends BenchmarkInput {
  /** USD per hour by instance type, for `estimated_cost_usd`. */
  priceTable?: Record<string, number>;
  /** When the record stage began (its manifest write comes before the row). @default when the row is built */
  recordStartedAtMs?: number;
  now?: Date;
}

/** UTC `YYYY-MM-DD HH:MM:SS.mmm`, the form of the DATETIME columns. */
const utc = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString().replace('T', ' ').replace('Z', ''));

function stage(prefix: string, m: StageMetrics | undefined, ok: boolean | null): BenchmarkRow {
  return {
    [`${prefix}instance_type`]: m?.instanceType ?? null,
    [`${prefix}gpu_type`]: m?.gpuType ?? null,
    [`${prefix}num_gpus`]: m?.numGpus ?? (m ? 0 : null),
    [`${prefix}success`]: ok,
    [`${prefix}peak_memory_gb`]: m?.peakMemoryGb ?? null,
    [`${prefix}is_preemptible`]: m?.isPreemptible ?? null,
    [`${prefix}input_load_time_s`]: m?.inputLoadS ?? null,
    [`${prefix}time_s`]: m?.timeS ?? null,
    [`${prefix}output_write_time_s`]: m?.outputWriteS ?? null,
  };
}

const seconds = (m?: StageMetrics) => (m ? m.inputLoadS + m.timeS + m.outputWriteS : 0);

/**
 * One benchmark row for one image of one run. deepcell-imaging's "preprocessing" is Mesmer's
 * normalisation inside predict plus conversion here: Tessel reports conversion in its own columns and
 * maps `preprocessing_*` to the convert stage, the step that prepares the model input.
 */
export function buildBenchmarkRow(input: RowInput): BenchmarkRow {
  const { metrics: m, result } = input;
  const failed = result.status === 'failed' ? result.failedStage : undefined;
  const ok = (s: 'convert' | 'predict' | 'postprocess' | 'quantify', present: unknown) =>
    present ? true : failed === s ? false : null;
  const now = input.now ?? new Date();
  const recordStartedAtMs = input.recordStartedAtMs ?? now.getTime();
  let cost: number | null = null;
  if (input.priceTable) {
    cost = 0;
    for (const s of [m.convert, m.predict, m.postprocess, m.quantify, m.classify]) {
      if (!s) continue;
      const price = input.priceTable[s.instanceType ?? ''] ?? 0;
      cost += (seconds(s) / 3600) * price;
    }
  }
  return normalizeRow({
    input_file_id: input.image.name,
    numpy_size_mb: m.convert ? m.convert.npzBytes / 1e6 : null,
    pixels: m.convert ? m.convert.width * m.convert.height : null,
    compartment: input.settings.postprocess.compartment,
    benchmark_datetime_utc: utc(now.getTime()),
    success: result.status === 'done',
    cloud_region: input.settings.benchmark.cloudRegion ?? null,
    ...stage('preprocessing_', m.convert, ok('convert', m.convert)),
    ...stage('prediction_', m.predict, ok('predict', m.predict)),
    ...stage('postprocessing_', m.postprocess, ok('postprocess', m.postprocess)),
    prediction_model_load_time_s: m.predict?.modelLoadS ?? null,
    prediction_batch_size: m.predict?.batchSize ?? null,
    run_id: input.runId,
    workflow_id: input.workflowId,
    image_uri: input.image.imageUri,
    error: result.error ?? null,
    failed_stage: result.failedStage ?? null,
    width: m.convert?.width ?? null,
    height: m.convert?.height ?? null,
    um_per_pixel: m.convert?.umPerPixel ?? null,
    conversion_time_s: m.convert ? seconds(m.convert) : null,
    quantification_time_s: m.quantify ? seconds(m.quantify) : null,
    conversion_queue_wait_s: m.convert?.queueWaitS ?? null,
    prediction_queue_wait_s: m.predict?.queueWaitS ?? null,
    postprocessing_queue_wait_s: m.postprocess?.queueWaitS ?? null,
    quantification_queue_wait_s: m.quantify?.queueWaitS ?? null,
    conversion_attempts: m.convert?.attempt ?? null,
    prediction_attempts: m.predict?.attempt ?? null,
    postprocessing_attempts: m.postprocess?.attempt ?? null,
    quantification_attempts: m.quantify?.attempt ?? null,
    prediction_worker: m.predict?.worker ?? null,
    cpu_worker: m.postprocess?.worker ?? null,
    model_name: m.predict?.modelName ?? null,
    model_sha256: m.predict?.modelSha256 ?? null,
    prediction_device: m.predict?.device ?? null,
    tiles: m.predict?.tiles ?? null,
    cells: m.quantify?.cells ?? m.postprocess?.cells ?? null,
    nuclei: m.postprocess?.nuclei ?? null,
    gpu_memory_gb: m.predict?.gpuMemoryGb ?? null,
    total_time_s: input.totalTimeS,
    estimated_cost_usd: cost,
    classifier_sha256: m.classify?.classifierSha256 ?? null,
    class_counts: m.classify ? JSON.stringify(m.classify.counts) : null,
    classification_time_s: m.classify ? seconds(m.classify) : null,
    classification_queue_wait_s: m.classify?.queueWaitS ?? null,
    classification_attempts: m.classify?.attempt ?? null,
    error_type: result.errorType ?? null,
    settings_hash: input.settingsHash ?? null,
    command_line: input.settings.benchmark.commandLine ?? null,
    conversion_started_at: utc(m.convert?.startedAtMs),
    prediction_started_at: utc(m.predict?.startedAtMs),
    postprocessing_started_at: utc(m.postprocess?.startedAtMs),
    quantification_started_at: utc(m.quantify?.startedAtMs),
    quantification_input_load_time_s: m.quantify?.inputLoadS ?? null,
    quantification_output_write_time_s: m.quantify?.outputWriteS ?? null,
    record_started_at: utc(recordStartedAtMs),
    record_time_s: Math.max(0, (now.getTime() - recordStartedAtMs) / 1000),
  });
}
