import type { QueryDefinition } from '@temporalio/common';
import type { BlockProgress, BlockSchedule, BlockScheduleState, BlockTask } from './block-schedule';
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

export type PredictBlockResult = StageMetrics & Pick<PredictResult, 'tiles' | 'batchSize' | 'modelLoadS' | 'modelName' | 'modelSha256' | 'device'>;

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
  /** The image's stage events no activity has carried yet (convert's end): the first block task sends them. */
  events?: StageEvent[];
}

/** What a blockwise image's tasks add up to (see {@link takeBlockResult}). */
export interface BlockTotals {
  /** From reduceFirst: how many blocks are segmented, predict only, skipped. */
  blocks?: { tissue: number; predictOnly: number; skipped: number };
  /** The image's CLAHE level range per channel, combined over every block's normalize. */
  levels?: { lo: number[]; hi: number[] };
  /** From stitch: objects per compartment and which blocks measure cells. */
  stitched?: { measuring: string; nuclei: number; cells: number };
  /** From reports. */
  report?: { cells: number; unpairedNuclei: number; cellsWithoutNucleus: number; warnings: string[] };
  /** Model tiles run. */
  tiles?: number;
}

/**
 * Takes a finished task's small result into the image's totals, and tells the schedule what it now
 * knows (the roles after reduceFirst, the measuring blocks after stitch). One function for the image's
 * workflow and the standalone runner, so both read results alike.
 */
export function takeBlockResult(totals: BlockTotals, schedule: BlockSchedule, task: BlockTask, value: unknown): void {
  switch (task.stage) {
    case 'reduceFirst': {
      const v = value as { roles: string } & NonNullable<BlockTotals['blocks']>;
      schedule.setRoles(v.roles);
      totals.blocks = { tissue: v.tissue, predictOnly: v.predictOnly, skipped: v.skipped };
      break;
    }
    case 'normalize': {
      const v = value as NonNullable<BlockTotals['levels']>;
      const t = totals.levels;
      totals.levels = t ? { lo: t.lo.map((x, k) => Math.min(x, v.lo[k])), hi: t.hi.map((x, k) => Math.max(x, v.hi[k])) } : { lo: [...v.lo], hi: [...v.hi] };
      break;
    }
    case 'predict': totals.tiles = (totals.tiles ?? 0) + (value as { tiles: number }).tiles; break;
    case 'stitch': {
      const v = value as NonNullable<BlockTotals['stitched']>;
      totals.stitched = { measuring: v.measuring, nuclei: v.nuclei, cells: v.cells };
      schedule.setMeasuring(v.measuring);
      break;
    }
    case 'reports': totals.report = value as BlockTotals['report']; break;
    default:
  }
}

/** What a blockwise image's workflow carries across continue-as-new. */
export interface BlocksCarry extends BlockTotals {
  layout: BlockLayout;
  schedule: BlockScheduleState;
  /** Each image stage's activities' metrics summed (predict's also with tiles, model and device). */
  metrics: Partial<Record<'predict' | 'postprocess' | 'quantify', StageMetrics & Partial<PredictResult>>>;
  events: StageEvent[];
  /** Image stages whose start (and end) were already reported. */
  started: Stage[];
  ended: Stage[];
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
