import type { ProgressReport } from './events';
import type { DiscoveredImage, ImageResult, RunSettings } from './run';

/** The stages of one image, in order. `record` writes the manifest and the benchmark row. */
/** `classify` runs only when the run has a classifier (`RunSettings.classify`). */
export const STAGES = ['convert', 'predict', 'postprocess', 'quantify', 'classify', 'record'] as const;
export type Stage = (typeof STAGES)[number];

/** Stages a run can start at, reusing the intermediates (NPZ, raw predictions) an earlier run kept. */
export const RESUMABLE_STAGES = ['predict', 'postprocess', 'quantify', 'classify'] as const;
export type ResumableStage = (typeof RESUMABLE_STAGES)[number];

/** What an activity reports about its own execution (becomes benchmark columns). */
export interface StageMetrics {
  stage: Stage;
  startedAtMs: number;
  inputLoadS: number;
  timeS: number;
  outputWriteS: number;
  /** Peak RSS of the worker process sampled during the activity, GB. */
  peakMemoryGb: number;
  queueWaitS: number;
  attempt: number;
  worker: string;
  instanceType?: string;
  gpuType?: string;
  numGpus?: number;
  isPreemptible?: boolean;
}

export interface ConvertInput {
  imageUri: string; npzUri: string; channels: RunSettings['channels']; progress?: ProgressReport;
  /** An image with more pixels is not converted: it runs block by block (the result says `blockwise`). */
  blockwiseAbovePixels?: number;
}

export interface ConvertResult extends StageMetrics {
  width: number;
  height: number;
  umPerPixel: number | null;
  calibrated: boolean;
  npzBytes: number;
  nuclearChannels: string[];
  membraneChannels: string[];
  /** The image is above `blockwiseAbovePixels`: nothing was converted, it runs block by block. */
  blockwise?: boolean;
}

export interface PredictInput { npzUri: string; predictionsUri: string; model: RunSettings['model']; umPerPixel?: number; progress?: ProgressReport }

export interface PredictResult extends StageMetrics {
  tiles: number;
  batchSize: number;
  modelLoadS: number;
  modelName: string;
  modelSha256: string;
  device: string;
  gpuMemoryGb?: number;
}

export interface PostprocessInput { predictionsUri: string; outDir: string; name: string; postprocess: RunSettings['postprocess']; progress?: ProgressReport }

export interface PostprocessResult extends StageMetrics {
  cells: number;
  nuclei: number;
}

export interface QuantifyInput {
  imageUri: string; imageName: string; wholeCellMaskUri: string; nucleusMaskUri: string; tsvUri: string;
  geojsonUri?: string; legacyNames: boolean; progress?: ProgressReport;
}

export interface QuantifyResult extends StageMetrics {
  cells: number;
  unpairedNuclei: number;
  warnings: string[];
}

export interface ClassifyInput {
  /** The image's measurement table, rewritten with its Classification column filled. */
  tsvUri: string;
  /** Its GeoJSON, when the run writes one: each feature gets `classification` {name, color}. */
  geojsonUri?: string;
  /** The run's classifier collection (ZIP with `classifier/…`). */
  classifierUri: string;
  progress?: ProgressReport;
}

/** The classify stage's outcome: the classifier's identity and how many cells each class got. */
export interface ClassifyResult extends StageMetrics {
  cells: number;
  classifierSha256: string;
  /** Cells per class, every class of the classifier listed. */
  counts: Record<string, number>;
  warnings: string[];
}

/** Each stage's metrics for one image, as far as it got. */
export interface ImageMetrics {
  convert?: ConvertResult; predict?: PredictResult; postprocess?: PostprocessResult; quantify?: QuantifyResult; classify?: ClassifyResult;
}

/** What the image's manifest records (core/workspace/manifest.ts builds it). */
export interface ManifestInput {
  runId: string;
  jobsDir: string;
  result: ImageResult;
  settingsHash: string;
  intermediates: { npzUri?: string; predictionsUri?: string };
}

/** What the image's benchmark row is built from (core/record/row.ts). */
export interface BenchmarkInput {
  runId: string;
  workflowId: string;
  /** The run's settings hash (core/workspace/manifest.ts `settingsHash`). */
  settingsHash: string;
  image: DiscoveredImage;
  settings: RunSettings;
  result: ImageResult;
  metrics: ImageMetrics;
  totalTimeS: number;
}

export interface RecordInput {
  manifest: ManifestInput;
  benchmark: BenchmarkInput;
  /** Attempts at a manifest write that fails with a retryable error before the row is written without it. */
  manifestAttempts: number;
  progress?: ProgressReport;
}

export interface RecordResult {
  /** Set when the manifest could not be written: the image is then simply redone by a later run. */
  manifestError?: string;
}

/**
 * Input of the `fused` activity: postprocess, quantify (and classify) and record of an image small enough
 * (`RunInput.fusedMaxPixels`) that the hand-overs through the server cost a good part of the work.
 */
export interface FusedInput {
  postprocess: Omit<PostprocessInput, 'progress'>;
  quantify: Omit<QuantifyInput, 'progress'>;
  /** When the run has a classifier: classify after quantify. */
  classify?: Omit<ClassifyInput, 'progress'>;
  /** The image's result and stage metrics before postprocess; completed here for the manifest and row. */
  result: ImageResult;
  metrics: ImageMetrics;
  manifest: Omit<ManifestInput, 'result'>;
  benchmark: Omit<BenchmarkInput, 'result' | 'metrics' | 'totalTimeS'>;
  /** When the image's workflow started (epoch ms), for the row's total time. */
  startedAtMs: number;
  /**
   * The activity's retry limit. A retryable manifest or row failure retries the whole activity until the
   * last attempt, which writes the row without the manifest, or returns the record as failed, instead of
   * failing the image: its masks and table are complete by then.
   */
  maxAttempts: number;
  progress?: ProgressReport;
}

export interface FusedResult {
  postprocess: PostprocessResult;
  quantify: QuantifyResult;
  classify?: ClassifyResult;
  record: NonNullable<ImageResult['record']>;
}

/** Seconds a stage took as reported by its activity: input load + compute + output write. */
export function stageSeconds(m: Pick<StageMetrics, 'inputLoadS' | 'timeS' | 'outputWriteS'>): number {
  return m.inputLoadS + m.timeS + m.outputWriteS;
}

// How a stage's outcome enters an image's result: shared by the image's workflow and the `fused`
// activity, so both build the same result.

export function applyPostprocess(result: ImageResult, out: PostprocessResult): void {
  result.stageSeconds.postprocess = stageSeconds(out);
  result.nuclei = out.nuclei;
}

export function applyQuantify(result: ImageResult, out: QuantifyResult): void {
  result.stageSeconds.quantify = stageSeconds(out);
  result.cells = out.cells;
  result.warnings = out.warnings;
}
