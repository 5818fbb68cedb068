import type { TesselActivities } from '../core/contracts';
import { makeBlockTask, makePlanBlocks, makePredictBlock } from './blocks';
import { defaultEnvironment, type WorkerEnvironment } from './common';
import { makeClassify } from './classify';
import { makeConvert } from './convert';
import { discover, readImageList } from './discover';
import { finalize } from './finalize';
import { makeFused } from './fused';
import { makePostprocess } from './postprocess';
import { makePredict } from './predict';
import { makeQuantify } from './quantify';
import { makeRecord } from './record';

export { CPU_ACTIVITIES, GPU_ACTIVITIES } from '../core/contracts';

export interface ActivityDeps {
  env?: WorkerEnvironment;
  /** Overrides the device a run asks for (a GPU worker started with --device cuda). */
  device?: 'cpu' | 'cuda';
  gpuMemoryGb?: number;
  /** CPU threads for predictions on the CPU, all of a model's sessions together (default: one per physical core). */
  inferenceThreads?: number;
  priceTable?: Record<string, number>;
}

/** All activities, built with their dependencies injected (Temporal's activity-factory pattern). */
export function createActivities(deps: ActivityDeps = {}): TesselActivities {
  const env = deps.env ?? defaultEnvironment();
  return {
    discover,
    readImageList,
    convert: makeConvert(env),
    predict: makePredict(env, { device: deps.device, gpuMemoryGb: deps.gpuMemoryGb, cpuThreads: deps.inferenceThreads }),
    postprocess: makePostprocess(env),
    quantify: makeQuantify(env),
    classify: makeClassify(env),
    record: makeRecord({ priceTable: deps.priceTable }),
    fused: makeFused(env, { priceTable: deps.priceTable }),
    finalize,
    planBlocks: makePlanBlocks(env),
    blockTask: makeBlockTask(env),
    predictBlock: makePredictBlock(env, { device: deps.device, cpuThreads: deps.inferenceThreads }),
  };
}
