import type {
  DiscoverInput, DiscoverOutput, DiscoveredImage, FinalizeInput, FinalizeOutput, ImageListPage,
} from './run';
import type {
  BlockPlanInput, BlockPlanResult, BlockTaskInput, BlockTaskResult, PredictBlockInput, PredictBlockResult,
} from './blockwise';
import type {
  ClassifyInput, ClassifyResult, ConvertInput, ConvertResult, FusedInput, FusedResult, PostprocessInput, PostprocessResult, PredictInput, PredictResult,
  QuantifyInput, QuantifyResult, RecordInput, RecordResult,
} from './stages';

/**
 * Every activity a workflow may call, by its Temporal activity type. `activities/` implements exactly
 * this (checked by the compiler in `createActivities`); workflows proxy it, so they need no import of
 * the implementations.
 */
export interface TesselActivities {
  /** Lists and plans the run's images; writes the list to storage (cpu). */
  discover(input: DiscoverInput): Promise<DiscoverOutput>;
  /** One page of the discovered list (cpu). */
  readImageList(input: ImageListPage): Promise<DiscoveredImage[]>;
  convert(input: ConvertInput): Promise<ConvertResult>;
  /** The only activity on the GPU queue. */
  predict(input: PredictInput): Promise<PredictResult>;
  postprocess(input: PostprocessInput): Promise<PostprocessResult>;
  quantify(input: QuantifyInput): Promise<QuantifyResult>;
  /** The run's classifier applied to an image's cells (only when the run has one). */
  classify(input: ClassifyInput): Promise<ClassifyResult>;
  /** The manifest, then the benchmark row. */
  record(input: RecordInput): Promise<RecordResult>;
  /** postprocess, quantify and record of a small image in one activity. */
  fused(input: FusedInput): Promise<FusedResult>;
  /** The QuPath project and the run's summary. */
  finalize(input: FinalizeInput): Promise<FinalizeOutput>;
  /** A blockwise image's plan: grid, tissue check (cpu). */
  planBlocks(input: BlockPlanInput): Promise<BlockPlanResult>;
  /** One CPU task of a blockwise image: a block's statistics, normalisation, watershed, match or measurements, or a reduction. */
  blockTask(input: BlockTaskInput): Promise<BlockTaskResult>;
  /** One block's model tiles (gpu). */
  predictBlock(input: PredictBlockInput): Promise<PredictBlockResult>;
}

/** Which activities run on which queue. */
export const GPU_ACTIVITIES = ['predict', 'predictBlock'] as const satisfies readonly (keyof TesselActivities)[];
export const CPU_ACTIVITIES = [
  'discover', 'readImageList', 'convert', 'postprocess', 'quantify', 'classify', 'record', 'fused', 'finalize', 'planBlocks', 'blockTask',
] as const satisfies readonly (keyof TesselActivities)[];
