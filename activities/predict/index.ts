import type { PredictInput, PredictResult } from '../../core/contracts';
import * as stage from '../../core/predict';
import { runStage, type WorkerEnvironment } from '../common';

/**
 * Tiled, batched ONNX inference (GPU queue). The model session is cached for the worker's lifetime, so
 * only the first image on a worker pays the model load.
 */
export function makePredict(env: WorkerEnvironment, opts: { device?: 'cpu' | 'cuda'; gpuMemoryGb?: number; cpuThreads?: number } = {}) {
  return async function predict(input: PredictInput): Promise<PredictResult> {
    return runStage(env, 'predict', input.progress, async ({ signal, progress, timer }) => {
      const device = opts.device ?? input.model.device;
      const r = await stage.predict({
        npzUri: input.npzUri, modelUri: input.model.uri, outUri: input.predictionsUri, umPerPixel: input.umPerPixel,
        batchSize: input.model.batchSize, device, cpuThreads: opts.cpuThreads, signal,
        onProgress: (done: number, total: number) => progress(total ? done / total : 0),
      });
      timer.inputLoadS += r.timings.inputLoadS;
      timer.outputWriteS += r.timings.outputWriteS;
      timer.timeS += r.timings.normalizeS + r.timings.inferenceS + r.timings.untileS;
      return {
        tiles: r.tiles, batchSize: r.batchSize, modelLoadS: r.timings.modelLoadS, modelName: `${r.modelName}@${r.modelVersion}`,
        modelSha256: r.modelSha256, device, gpuMemoryGb: opts.gpuMemoryGb,
      };
    });
  };
}
