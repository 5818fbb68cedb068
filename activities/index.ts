import { defaultEnvironment, type WorkerEnvironment } from './common';
import { makeClassify } from './classify';
import { makeConvert } from './convert';
import { discoverImages, readImageList } from './discover';
import { finalizeRun } from './finalize';
import { makePostprocessToRecord } from './fused';
import { makeFinishImage } from './finish';
import { makePostprocess } from './postprocess';
import { makePredict } from './predict';
import { makeQuantify } from './quantify';
import { makeRecord } from './record';
import { writeManifest } from './manifest';

export interface ActivityDeps {
  env?: WorkerEnvironment;
  /** Overrides the device a run asks for (a GPU worker started with --device cuda). */
  device?: 'cpu' | 'cuda';
  gpuMemoryGb?: number;
  /** onnxruntime intra-op threads for predictions on the CPU (default: onnxruntime's, one per physical core). */
  inferenceThreads?: number;
  priceTable?: Record<string, number>;
}

/** All activities, built with their dependencies injected (Temporal's activity-factory pattern). */
export function createActivities(deps: ActivityDeps = {}) {
  const env = deps.env ?? defaultEnvironment();
  return {
    discoverImages,
    readImageList,
    convertImage: makeConvert(env),
    predictImage: makePredict(env, { device: deps.device, gpuMemoryGb: deps.gpuMemoryGb, intraOpThreads: deps.inferenceThreads }),
    postprocessImage: makePostprocess(env),
    quantifyImage: makeQuantify(env),
    classifyImage: makeClassify(env),
    recordBenchmark: makeRecord({ priceTable: deps.priceTable }),
    finalizeRun,
    // Kept for children started before `finishImage` existed (they replay and finish with these two).
    writeManifest,
    finishImage: makeFinishImage({ priceTable: deps.priceTable }),
    postprocessToRecord: makePostprocessToRecord(env, { priceTable: deps.priceTable }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Which activities run on which queue. */
export const CPU_ACTIVITIES = ['discoverImages', 'readImageList', 'convertImage', 'postprocessImage', 'quantifyImage', 'classifyImage', 'recordBenchmark', 'finalizeRun', 'writeManifest', 'finishImage', 'postprocessToRecord'] as const;
export const GPU_ACTIVITIES = ['predictImage'] as const;
