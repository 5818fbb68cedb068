/**
 * A run's inputs, its images and its progress. Only URIs and small metrics travel through Temporal
 * (claim check); pixels never do.
 */
import type { BlockwiseSettings } from './blockwise';
import type { StageEvent } from './events';
import type { ResumableStage, Stage } from './stages';

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

/** A channel by name (exact, then case-insensitive) or 0-based index. */
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
  /** A cell classifier (model collection ZIP with `classifier/…`): after quantify, each cell gets its class. Absent: no classify stage. */
  classify?: { uri: string };
  benchmark: {
    sink: 'duckdb' | 'bigquery' | 'none';
    duckdbPath?: string;
    bigqueryTable?: string;
    cloudRegion?: string;
    /** The command line that started the run, recorded in benchmark rows (not a setting of the results). */
    commandLine?: string;
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
   * Images of at most this many pixels run postprocess, quantify and record as one CPU activity, `fused`,
   * instead of three: at that size the hand-overs through the server cost a good part of what the stages
   * compute. 0: never. Not a setting of the results, so not in the settings hash.
   */
  fusedMaxPixels: number;
  /** Images above a size run block by block (absent: never). */
  blockwise?: BlockwiseSettings;
  /**
   * Image workflow ids hold the image's index instead of its name (set when payloads are encrypted, since
   * ids are stored in plaintext). See `imageWorkflowId`.
   */
  opaqueChildIds?: boolean;
}

/** What a run will do with an image, from its manifest. */
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
  /** Empty for a blockwise image, which makes no NPZ. */
  npzUri: string;
  predictionsUri: string;
  wholeCellMaskUri: string;
  nucleusMaskUri: string;
  tsvUri: string;
  geojsonUri?: string;
  /** Per-label bounding boxes beside the masks (blockwise images). */
  wholeCellBoxesUri?: string;
  nucleusBoxesUri?: string;
}

/** Input of one image's workflow (`processImage`). */
export interface ImageInput {
  runId: string;
  image: DiscoveredImage;
  outputs: ImageOutputs;
  segmasksDir: string;
  taskQueues: RunInput['taskQueues'];
  settings: RunSettings;
  maxAttempts: number;
  /** The run's workflow id; activities signal it with the image's stage events. */
  parentWorkflowId?: string;
  settingsHash: string;
  fromStage?: ResumableStage;
  jobsDir: string;
  heartbeatTimeoutS: number;
  fusedMaxPixels: number;
  blockwise?: BlockwiseSettings;
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
  /** How the record stage (manifest + benchmark row) went; the run counts that stage from it. */
  record?: { status: 'done'; manifestError?: string } | { status: 'failed'; error: string };
  /**
   * Stage events no activity carried to the run (an image whose last stages ran as one activity): the
   * run counts them when the result arrives, then drops them.
   */
  events?: StageEvent[];
}

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
  /** Images running block by block now, with the workflow that answers their `blockProgress` query. */
  blockwise?: { name: string; workflowId: string }[];
}

export interface RunSummary extends RunProgress {
  results: ImageResult[];
  projectUri?: string;
  summaryUri?: string;
  finishedAtMs: number;
}

export interface DiscoverInput { locations: Locations; imageFilter: string[]; settings: RunSettings; runId: string }

export interface DiscoverOutput {
  /** JSON-lines list of the planned images, one {@link DiscoveredImage} per line (claim check). */
  listUri: string;
  total: number;
  skipped: { uri: string; reason: string }[];
  settingsHash: string;
}

export interface ImageListPage { listUri: string; offset: number; limit: number }

export interface FinalizeInput { runId: string; locations: Locations; results: ImageResult[]; progress: RunProgress }
export interface FinalizeOutput { projectUri: string; summaryUri: string }

/** Output URIs of one image (deepcell-imaging's workspace names). */
export function outputsFor(input: Pick<RunInput, 'locations' | 'runId' | 'settings'>, name: string): ImageOutputs {
  const L = input.locations;
  const j = (a: string, b: string) => `${a.replace(/\/+$/, '')}/${b}`;
  return {
    npzUri: j(L.npz, `${name}.npz`),
    predictionsUri: j(j(L.jobs, input.runId), `${name}/raw_predictions.npz`),
    wholeCellMaskUri: j(L.segmasks, `${name}_WholeCellMask.tiff`),
    nucleusMaskUri: j(L.segmasks, `${name}_NucleusMask.tiff`),
    tsvUri: j(L.reports, `${name}_QUANT.tsv`),
    geojsonUri: input.settings.quantify.geojson ? j(L.reports, `${name}.geojson`) : undefined,
  };
}

/** The workflow type of a run (`workflows/segment-and-measure.ts`), as clients start it. */
export const RUN_WORKFLOW_TYPE = 'segmentAndMeasure';

/**
 * The workflow id of one image's workflow within a run. Workflow ids are stored and shown in plaintext by
 * the Temporal server (payload encryption cannot cover them), so with `opaque` (encryption on) the id holds
 * the image's position in the run's discovered list instead of its name: unique within the run, stable on
 * replay and across continue-as-new, and telling the server nothing about the image. Without it, the name
 * makes ids readable in the Web UI.
 */
export function imageWorkflowId(runId: string, name: string, index: number, opaque: boolean | undefined): string {
  return opaque ? `${runId}--image-${index}` : `${runId}--${name}`;
}
