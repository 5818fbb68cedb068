/**
 * Types shared by workflows, activities and the CLI. Pure declarations: workflow code may import them.
 * Only URIs and small metrics travel through Temporal (claim check); pixels never do.
 */

/** Where a run reads and writes, as URIs (local paths or gs://). Workspace mode fills these from one root. */
export interface Locations {
  images: string;
  npz: string;
  segmasks: string;
  project: string;
  reports: string;
  /** Per-run intermediates: `<jobs>/<run-id>/<image>/raw_predictions.npz`, the run summary. */
  jobs: string;
  /** Folder of the DuckDB benchmark file. */
  benchmarks: string;
}

export type Stage = 'convert' | 'predict' | 'postprocess' | 'quantify' | 'record';
export const STAGES: readonly Stage[] = ['convert', 'predict', 'postprocess', 'quantify', 'record'];

export type ChannelSpec = string | number;

export interface RunSettings {
  channels: { nuclear?: ChannelSpec[]; membrane?: ChannelSpec[]; combine: 'sum' | 'max' };
  model: { uri: string; batchSize: number; device: 'cpu' | 'cuda' };
  postprocess: {
    compartment: 'both' | 'whole-cell' | 'nuclear';
    wholeCell?: Record<string, number>;
    nuclear?: Record<string, number>;
  };
  quantify: { geojson: boolean; legacyNames: boolean };
  benchmark: {
    sink: 'duckdb' | 'bigquery' | 'none';
    duckdbPath?: string;
    bigqueryTable?: string;
    cloudRegion?: string;
  };
}

export interface RunInput {
  runId: string;
  locations: Locations;
  /** Prefixes or glob patterns on the image name; empty = every image. */
  imageFilter: string[];
  maxConcurrentImages: number;
  taskQueues: { cpu: string; gpu: string };
  settings: RunSettings;
  /** Activity retry attempts for transient failures. */
  maxAttempts: number;
  /** Seconds without a heartbeat before an activity counts as lost and is retried (a crashed worker). */
  heartbeatTimeoutS: number;
  /** Children started before the run continues as new (bounded history). */
  childrenPerSegment: number;
  /** Redo images whose outputs are complete and current. */
  force: boolean;
  /** Start every image at this stage, reusing kept intermediates (NPZ, raw predictions). */
  fromStage?: ResumableStage;
  /**
   * Images of at most this many pixels run postprocess, quantify and record as one CPU activity instead of
   * three (see `postprocessToRecord`): at that size the hand-overs through the server cost a good part of
   * what the stages compute. 0 or absent: never. Not a setting of the results, so not in the settings hash.
   */
  fuseStagesMaxPixels?: number;
  /**
   * Child workflow ids hold the image's index instead of its name (set when payloads are encrypted, since
   * ids are stored in plaintext). See `childWorkflowId`.
   */
  opaqueChildIds?: boolean;
}

export type ResumableStage = 'predict' | 'postprocess' | 'quantify';

export type ImagePlan = 'new' | 'done' | 'failed-before' | 'input-changed' | 'settings-changed' | 'outputs-missing';

export interface DiscoveredImage {
  /** Basename cut at the first '.' (deepcell-imaging's rule). */
  name: string;
  imageUri: string;
  /** What the run will do with it, from the image's manifest (absent: new). */
  plan?: ImagePlan;
  /** Raw predictions kept by an earlier run, for `--from-stage postprocess|quantify`. */
  keptPredictionsUri?: string;
}

export interface ImageOutputs {
  npzUri: string;
  predictionsUri: string;
  wholeCellMaskUri: string;
  nucleusMaskUri: string;
  tsvUri: string;
  geojsonUri?: string;
}

export interface ImageInput {
  runId: string;
  image: DiscoveredImage;
  outputs: ImageOutputs;
  segmasksDir: string;
  taskQueues: { cpu: string; gpu: string };
  settings: RunSettings;
  maxAttempts: number;
  /** Parent workflow id, signalled on each stage transition. */
  parentWorkflowId?: string;
  settingsHash: string;
  fromStage?: ResumableStage;
  jobsDir: string;
  heartbeatTimeoutS: number;
  /** See {@link RunInput.fuseStagesMaxPixels}. */
  fuseStagesMaxPixels?: number;
}

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

export interface ConvertResult extends StageMetrics {
  width: number;
  height: number;
  umPerPixel: number | null;
  calibrated: boolean;
  npzBytes: number;
  nuclearChannels: string[];
  membraneChannels: string[];
}

export interface PredictResult extends StageMetrics {
  tiles: number;
  batchSize: number;
  modelLoadS: number;
  modelName: string;
  modelSha256: string;
  device: string;
  gpuMemoryGb?: number;
}

export interface PostprocessResult extends StageMetrics {
  cells: number;
  nuclei: number;
}

export interface QuantifyResult extends StageMetrics {
  cells: number;
  unpairedNuclei: number;
  warnings: string[];
}

export interface ImageResult {
  name: string;
  imageUri: string;
  status: 'done' | 'failed' | 'skipped';
  failedStage?: Stage;
  error?: string;
  errorType?: string;
  cells?: number;
  nuclei?: number;
  outputs?: ImageOutputs;
  /** Seconds per stage (compute + I/O as reported by the activity). */
  stageSeconds: Partial<Record<Stage, number>>;
  warnings?: string[];
  /** How the last step (manifest + benchmark row) went; the parent counts the record stage from it. */
  record?: { status: 'done' | 'failed'; error?: string; manifestError?: string };
  /**
   * Stage events no activity carried to the run (an image whose last stages ran as one activity): the
   * run counts them when the result arrives, then drops them.
   */
  events?: StageEvent[];
}

export type ImageState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StageCounts { done: number; failed: number; running: number }

export interface RunProgress {
  runId: string;
  state: 'discovering' | 'running' | 'finalizing' | 'completed' | 'failed' | 'cancelled';
  images: { total: number; done: number; failed: number; running: number; pending: number; skipped: number };
  stages: Record<Stage, StageCounts>;
  failures: { name: string; imageUri: string; stage?: Stage; error: string; errorType?: string }[];
  /** Failures not listed in `failures` (very large runs list the first 500). */
  failuresOmitted?: number;
  /** Seconds per stage summed over the images that ran it. */
  stageTotals?: Partial<Record<Stage, { seconds: number; images: number }>>;
  cells: number;
  startedAtMs: number;
  /** Images per minute over finished images, and an ETA in seconds, when enough is known. */
  throughputPerMin?: number;
  etaS?: number;
}

export interface RunSummary extends RunProgress {
  results: ImageResult[];
  projectUri?: string;
  summaryUri?: string;
  finishedAtMs: number;
}

/** Signal payload: a child reports a stage transition to its parent. */
export interface StageEvent {
  name: string;
  stage: Stage;
  event: 'started' | 'done' | 'failed';
  error?: string;
  errorType?: string;
  cells?: number;
}

/**
 * Stage events an activity sends to the run (parent) workflow while it runs (awaited before it ends),
 * for children since the `stage-events-from-activities` patch: its own stage's start and what ended
 * before it. Sent from the activity, a signal costs the child no command, acknowledgement or extra
 * workflow task; a retried attempt sends them again, and the parent counts each (image, stage, event) once.
 */
export interface ProgressReport {
  parentWorkflowId: string;
  events: StageEvent[];
}

