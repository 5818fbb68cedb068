import type { QueryDefinition } from '@temporalio/common';
import type { BlockProgress, BlockScheduleState, BlockTask } from './block-schedule';
import type { BlockLayout } from './blocks';
import type { ProgressReport, StageEvent } from './events';
import type { DiscoveredImage, ImageOutputs, RunSettings } from './run';
import type { PostprocessResult, PredictResult, QuantifyResult, Stage, StageMetrics } from './stages';

/**
 * Blockwise images (issue 16): an image above `abovePixels` runs as blocks in a child workflow of its
 * own (`processBlocks`), each block's work an activity retried on its own. Not a setting of the results
 * (a blockwise run gives a whole-image run's masks and table), so not in the settings hash.
 */
export interface BlockwiseSettings {
  /** Images with more pixels than this run blockwise; 0: never. */
  abovePixels: number;
  blockSize: number;
  halo: number;
  /** Blocks whose nuclear and membrane pixels are all at most this are skipped (see core/blocks/plan.ts). */
  tissueThreshold: number;
  /** Block activities in flight at once per queue. */
  maxInFlight: number;
  /** Block activities per history segment before the image's workflow continues as new. */
  tasksPerSegment: number;
}

/** What the CPU block tasks need besides the image's folder (see core/blocks/worker-tasks.ts). */
export interface BlockTaskSettings {
  postprocess?: { wholeCell?: Record<string, number>; nuclear?: Record<string, number> };
  outputs?: {
    wholeCellMaskUri: string;
    nucleusMaskUri: string;
    wholeCellBoxesUri: string;
    nucleusBoxesUri: string;
    maskFormat?: 'ome-tiff' | 'ome-zarr';
    name?: string;
  };
  measure?: {
    imageUri: string;
    imageName: string;
    geometry: boolean;
    legacyNames?: boolean;
    compartments?: ('nucleus' | 'cytoplasm' | 'membrane' | 'cell')[];
    stats?: ('mean' | 'median' | 'min' | 'max' | 'std')[];
    tsvUri: string;
    geojsonUri?: string;
  };
  /** From the stitch: which blocks measure cells, and how many nuclei there are. */
  stitched?: { measuring: string; nuclei: number };
}

export interface BlockPlanInput {
  imageUri: string;
  blocksDir: string;
  channels: RunSettings['channels'];
  modelUri: string;
  blockSize: number;
  halo: number;
  tissueThreshold: number;
  progress?: ProgressReport;
}

export interface BlockPlanResult extends StageMetrics {
  layout: BlockLayout;
  umPerPixel: number | null;
  /** The pyramid level the tissue check used, or null: full resolution, in the first pass. */
  tissueLevel: number | null;
}

export interface BlockTaskInput {
  blocksDir: string;
  task: BlockTask;
  settings: BlockTaskSettings;
  progress?: ProgressReport;
}

/** A CPU block task's outcome: its small result (roles, level ranges, stitch summary, report…) and metrics. */
export interface BlockTaskResult extends StageMetrics {
  value: unknown;
}

export interface PredictBlockInput {
  blocksDir: string;
  block: number;
  model: RunSettings['model'];
  /** The image's CLAHE level range per channel (every block's combined). */
  levels: { lo: number[]; hi: number[] };
  progress?: ProgressReport;
}

export interface PredictBlockResult extends StageMetrics {
  tiles: number;
  batchSize: number;
  modelLoadS: number;
  modelName: string;
  modelSha256: string;
  device: string;
}

/** Input of one blockwise image's workflow. */
export interface BlocksInput {
  runId: string;
  image: DiscoveredImage;
  outputs: ImageOutputs & { wholeCellBoxesUri: string; nucleusBoxesUri: string };
  blocksDir: string;
  settings: RunSettings;
  blockwise: BlockwiseSettings;
  taskQueues: { cpu: string; gpu: string };
  maxAttempts: number;
  heartbeatTimeoutS: number;
  /** The run's workflow id, for stage events. */
  parentWorkflowId?: string;
}

/** What a blockwise image's workflow carries across continue-as-new. */
export interface BlocksCarry {
  layout: BlockLayout;
  schedule: BlockScheduleState;
  levels?: { lo: number[]; hi: number[] };
  stitched?: { measuring: string; nuclei: number; cells: number };
  blocks?: { tissue: number; predictOnly: number; skipped: number };
  /** Each image stage's activities' metrics summed (predict's also with tiles, model and device). */
  metrics: Partial<Record<'predict' | 'postprocess' | 'quantify', StageMetrics & Partial<PredictResult>>>;
  events: StageEvent[];
  /** Image stages whose start (and end) were already reported. */
  started: Stage[];
  ended: Stage[];
  report?: { cells: number; unpairedNuclei: number; cellsWithoutNucleus: number; warnings: string[] };
}

export interface BlocksResult {
  metrics: { predict?: PredictResult; postprocess?: PostprocessResult; quantify?: QuantifyResult };
  cells: number;
  nuclei: number;
  warnings: string[];
  blocks: { total: number; tissue: number; predictOnly: number; skipped: number };
  /** Stage events no activity carried (the last ones); the image's workflow passes them on. */
  events: StageEvent[];
  /** Set when a block failed: the stage (image terms), the message (naming the block) and the error type. */
  failure?: { stage: Stage; error: string; errorType?: string };
}

/** The image stage a block task counts under in `tessel status` and the benchmark rows. */
export function imageStageOf(task: BlockTask): 'predict' | 'postprocess' | 'quantify' {
  switch (task.stage) {
    case 'first': case 'reduceFirst': case 'second': case 'reduceSecond': case 'normalize': case 'predict': return 'predict';
    case 'watershed': case 'match': case 'stitch': case 'masks': return 'postprocess';
    case 'quantify': case 'reports': return 'quantify';
  }
}

/** Adds one activity's metrics into a stage's total: times summed, the peak memory and attempts the largest. */
export function addMetrics<T extends StageMetrics>(total: T | undefined, m: StageMetrics, extra: Partial<T> = {}): T {
  if (!total) return { ...m, ...extra } as T;
  return {
    ...total, ...extra,
    startedAtMs: Math.min(total.startedAtMs, m.startedAtMs),
    inputLoadS: total.inputLoadS + m.inputLoadS, timeS: total.timeS + m.timeS, outputWriteS: total.outputWriteS + m.outputWriteS,
    peakMemoryGb: Math.max(total.peakMemoryGb, m.peakMemoryGb), queueWaitS: total.queueWaitS + m.queueWaitS,
    attempt: Math.max(total.attempt, m.attempt),
  };
}

/** The workflow id of an image's blockwise workflow. */
export function blocksWorkflowId(imageWorkflowId: string): string {
  return `${imageWorkflowId}--blocks`;
}

export interface BlockwiseProgress {
  name: string;
  layout?: BlockLayout;
  stages?: BlockProgress;
  blocks?: { tissue: number; predictOnly: number; skipped: number };
}

/** A blockwise image's progress per block stage (its own workflow answers; `tessel status` asks). */
export const blockProgressQuery = { type: 'query', name: 'blockProgress' } as QueryDefinition<BlockwiseProgress>;
