import type {
  BlockPlanInput, BlockPlanResult, BlockTaskInput, BlockTaskResult, PredictBlockInput, PredictBlockResult,
} from '../../core/contracts';
import { imageStageOf } from '../../core/contracts';
import { inBlock } from '../../core/blocks/grid';
import { loadContext, planBlocks } from '../../core/blocks/plan';
import { predictBlock } from '../../core/blocks/stage-predict';
import { runCpuTask } from '../../core/blocks/worker-tasks';
import { cachedCollection } from '../../core/predict/model-cache';
import { runStage, type WorkerEnvironment } from '../common';

/** A blockwise image's plan: its grid and tissue check (cpu). */
export function makePlanBlocks(env: WorkerEnvironment) {
  return async function planBlocksActivity(input: BlockPlanInput): Promise<BlockPlanResult> {
    return runStage(env, 'predict', input.progress, async ({ timer }) => {
      const md = (await timer.time('inputLoad', () => cachedCollection(input.modelUri))).metadata;
      const plan = await timer.time('compute', () => planBlocks({
        inputUri: input.imageUri, channels: input.channels, blockSize: input.blockSize, halo: input.halo, tissueThreshold: input.tissueThreshold,
        dir: input.blocksDir,
        model: { tileSize: md.tileSize, strideRatio: md.strideRatio, clipPercentile: md.normalization.clipPercentile, kernelSize: md.normalization.kernelSize },
      }));
      return { layout: plan.layout, umPerPixel: plan.umPerPixel ?? null, tissueLevel: plan.tissue.level ?? null };
    });
  };
}

/** One CPU task of a blockwise image, on a worker thread so heartbeats keep flowing (cpu). */
export function makeBlockTask(env: WorkerEnvironment) {
  return async function blockTask(input: BlockTaskInput): Promise<BlockTaskResult> {
    return runStage(env, imageStageOf(input.task), input.progress, async ({ signal, progress, timer }) => ({
      value: await timer.time('compute', () => runCpuTask(input.blocksDir, input.task, input.settings, { signal, onProgress: progress })),
    }));
  };
}

/** One block's model tiles (gpu); the session is cached for the worker's lifetime. */
export function makePredictBlock(env: WorkerEnvironment, opts: { device?: 'cpu' | 'cuda'; cpuThreads?: number } = {}) {
  return async function predictBlockActivity(input: PredictBlockInput): Promise<PredictBlockResult> {
    return runStage(env, 'predict', input.progress, async ({ signal, progress, timer }) => {
      const device = opts.device ?? input.model.device;
      const model = await timer.time('inputLoad', () => cachedCollection(input.model.uri));
      const ctx = await loadContext(input.blocksDir);
      const r = await timer.time('compute', () => inBlock(ctx.plan.layout, input.block, () => predictBlock(ctx, input.block, {
        model, levels: input.levels, batchSize: input.model.batchSize, device, cpuThreads: opts.cpuThreads, signal,
        onProgress: (done, total) => progress(total ? done / total : 0),
      })));
      return { ...r, modelName: `${model.metadata.name}@${model.metadata.version}`, modelSha256: model.sha256, device };
    });
  };
}
