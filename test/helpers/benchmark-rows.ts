import { normalizeRow, type BenchmarkRow } from '../../core/bench/schema';

/**
 * Benchmark rows with known values for the dashboard's tests and bench: each image's stages follow one
 * another with set queue waits and times that grow linearly with megapixels (so the fits have known
 * slopes), failures stop an image at a stage as a run would.
 */
export interface ImageSpec {
  runId: string;
  image: string;
  /** When the image's first stage was queued (epoch ms). */
  queuedMs: number;
  mpx: number;
  cpuMachine: string;
  /** Machine of the convert stage when it is not the CPU machine. */
  convertMachine?: string;
  gpuMachine: string;
  gpuType: string | null;
  numGpus: number;
  worker: string;
  /** The stage it failed at, with the error's type. */
  fail?: { stage: 'convert' | 'predict' | 'postprocess' | 'quantify'; errorType: string };
  predictAttempts?: number;
  /** Queue wait before predict, s. */
  predictWaitS?: number;
  commandLine?: string;
  settingsHash?: string;
}

const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** One image's row. Stage times: convert 0.1 + 0.2·Mpx, predict 0.2 + 0.5·Mpx, postprocess 0.3·Mpx + 0.1, quantify 0.1·Mpx + 0.05. */
export function imageRow(s: ImageSpec): BenchmarkRow {
  const px = Math.round(s.mpx * 1e6);
  const failed = s.fail?.stage;
  const order = ['convert', 'predict', 'postprocess', 'quantify'] as const;
  const ran = (st: (typeof order)[number]) => !failed || order.indexOf(st) < order.indexOf(failed);
  let t = s.queuedMs;
  const row: Record<string, unknown> = {
    input_file_id: s.image, run_id: s.runId, workflow_id: `${s.runId}--${s.image}`, image_uri: `/data/${s.runId}/OMETIFF/${s.image}.ome.tiff`,
    compartment: 'both', success: !failed, failed_stage: failed ?? null, error: failed ? `${s.image}.ome.tiff: ${s.fail!.errorType.toLowerCase()} here` : null,
    error_type: s.fail?.errorType ?? null, command_line: s.commandLine ?? `tessel run workspace /data/${s.runId}`, settings_hash: s.settingsHash ?? `hash-${s.runId}`,
    model_name: 'reference@1.0',
  };
  const stage = (prefix: string, machine: string, gpu: string | null, numGpus: number, waitS: number, load: number, compute: number, write: number, memGb: number | null) => {
    const started = t + waitS * 1000;
    Object.assign(row, {
      [`${prefix}instance_type`]: machine, [`${prefix}gpu_type`]: gpu, [`${prefix}num_gpus`]: numGpus, [`${prefix}success`]: true,
      [`${prefix}peak_memory_gb`]: memGb, [`${prefix}input_load_time_s`]: load, [`${prefix}time_s`]: compute, [`${prefix}output_write_time_s`]: write,
    });
    t = started + (load + compute + write) * 1000;
    return started;
  };
  if (ran('convert')) {
    const started = stage('preprocessing_', s.convertMachine ?? s.cpuMachine, null, 0, 0.5, 0.1, round(0.1 + 0.2 * s.mpx), 0.05, round(0.3 + 0.05 * s.mpx));
    Object.assign(row, { pixels: px, width: 1000, height: Math.round(px / 1000), numpy_size_mb: round(px * 8 / 1e6), conversion_started_at: utc(started),
      conversion_queue_wait_s: 0.5, conversion_attempts: 1, conversion_time_s: round(0.25 + 0.1 + 0.2 * s.mpx) });
  } else Object.assign(row, { preprocessing_success: false });
  if (ran('convert') && ran('predict')) {
    const wait = s.predictWaitS ?? 0.2;
    const started = stage('prediction_', s.gpuMachine, s.gpuType, s.numGpus, wait, 0.05, round(0.2 + 0.5 * s.mpx), 0.02, round(0.5 + 0.14 * s.mpx));
    Object.assign(row, { prediction_started_at: utc(started), prediction_queue_wait_s: wait, prediction_attempts: s.predictAttempts ?? 1,
      prediction_worker: s.worker, prediction_device: s.numGpus > 0 ? 'cuda' : 'cpu', prediction_batch_size: 8, prediction_model_load_time_s: 0 });
  } else if (failed === 'predict') Object.assign(row, { prediction_success: false });
  if (ran('convert') && ran('predict') && ran('postprocess')) {
    const started = stage('postprocessing_', s.cpuMachine, null, 0, 0.1, 0.04, round(0.1 + 0.3 * s.mpx), 0.03, round(0.6 + 0.2 * s.mpx));
    Object.assign(row, { postprocessing_started_at: utc(started), postprocessing_queue_wait_s: 0.1, postprocessing_attempts: 1, cpu_worker: `cpu-${s.runId}`,
      nuclei: Math.round(900 * s.mpx) });
  } else if (failed === 'postprocess') Object.assign(row, { postprocessing_success: false });
  if (!failed) {
    const started = t;
    const total = round(0.02 + 0.05 + 0.1 * s.mpx + 0.03);
    t += total * 1000;
    Object.assign(row, { quantification_started_at: utc(started), quantification_queue_wait_s: 0, quantification_attempts: 1, quantification_time_s: total,
      quantification_input_load_time_s: 0.02, quantification_output_write_time_s: 0.03, cells: Math.round(1000 * s.mpx) });
  }
  const recordStart = t;
  t += 10;
  Object.assign(row, { record_started_at: utc(recordStart), record_time_s: 0.01, benchmark_datetime_utc: utc(t), total_time_s: round((t - s.queuedMs) / 1000) });
  return normalizeRow(row as Partial<BenchmarkRow>);
}

/** Two runs with known rows: run-a on an L4 machine (one prediction worker), run-b on two T4 workers a day later (13 rows). */
export function knownRows(): BenchmarkRow[] {
  const a0 = Date.parse('2024-05-06T10:00:00Z');
  const b0 = Date.parse('2024-05-07T09:00:00Z');
  const rows: BenchmarkRow[] = [];
  [0.25, 0.5, 1, 2, 4, 8].forEach((mpx, i) => rows.push(imageRow({
    runId: 'run-a', image: `a${i}`, queuedMs: a0 + i * 6000, mpx, cpuMachine: 'n2-standard-8', gpuMachine: 'g2-standard-8', gpuType: 'nvidia-l4', numGpus: 1,
    worker: 'gpu-a', predictAttempts: i === 2 ? 2 : 1, fail: i === 4 ? { stage: 'postprocess', errorType: 'INVALID_ARRAY' } : undefined,
  })));
  const b = { runId: 'run-b', cpuMachine: 'n2-standard-8', gpuMachine: 'n1-standard-8', gpuType: 'nvidia-tesla-t4', numGpus: 1 };
  [0.5, 1, 1.5, 3, 6].forEach((mpx, i) => rows.push(imageRow({
    ...b, image: `b${i}`, queuedMs: b0 + i * 1500, mpx, convertMachine: i === 3 ? 'custom-box' : undefined,
    worker: i % 2 ? 'gpu-b2' : 'gpu-b1', predictWaitS: 0.4 + 0.3 * i,
    fail: i === 1 ? { stage: 'convert', errorType: 'INVALID_IMAGE' } : undefined, predictAttempts: i === 4 ? 3 : 1,
  })));
  // Two slots on gpu-b2: b5's prediction (7.45–8.22 s) runs inside b3's (7.15–8.92 s), and b6's (8.50–9.02 s) starts
  // after b5's ended but before b3's did: one busy stretch, which only a running maximum of the ends finds.
  rows.push(imageRow({ ...b, image: 'b5', queuedMs: b0 + 5000, mpx: 1, worker: 'gpu-b2', predictWaitS: 1.5 }));
  rows.push(imageRow({ ...b, image: 'b6', queuedMs: b0 + 6400, mpx: 0.5, worker: 'gpu-b2', predictWaitS: 1.25 }));
  return rows;
}

/** The env config price table the tests use: n1-standard-8 priced there; g2 and n2 from the defaults; custom-box unpriced. */
export const KNOWN_PRICE_TABLE = { 'n1-standard-8': 0.5 };
