import type { PostprocessInput, PostprocessResult } from '../../core/contracts';
import * as stage from '../../core/postprocess';
import { runStage, type WorkerEnvironment } from '../common';

/** Deep watershed on the raw predictions → whole-cell and nucleus int32 masks (worker threads). */
export function makePostprocess(env: WorkerEnvironment) {
  return async function postprocess(input: PostprocessInput): Promise<PostprocessResult> {
    return runStage(env, 'postprocess', input.progress, async ({ signal, progress, timer }) => {
      const r = await timer.time('compute', () => stage.postprocess({
        predictionsUri: input.predictionsUri, outDir: input.outDir, name: input.name,
        compartment: input.postprocess.compartment, wholeCell: input.postprocess.wholeCell, nuclear: input.postprocess.nuclear,
        signal, onProgress: progress,
      }));
      return { cells: r.wholeCellCount ?? 0, nuclei: r.nucleusCount ?? 0 };
    });
  };
}
