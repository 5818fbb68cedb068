import { postprocessPredictions } from '../../core/postprocess/run';
import type { PostprocessResult, ProgressReport, RunSettings } from '../../workflows/types';
import { runStage, type WorkerEnvironment } from '../common';

export interface PostprocessInput { predictionsUri: string; outDir: string; name: string; postprocess: RunSettings['postprocess']; progress?: ProgressReport }

/** Deep watershed on the raw predictions → whole-cell and nucleus int32 masks (worker threads). */
export function makePostprocess(env: WorkerEnvironment) {
  return async function postprocessImage(input: PostprocessInput): Promise<PostprocessResult> {
    return runStage(env, 'postprocess', input.progress, async ({ signal, progress, timer }) => {
      const r = await timer.time('compute', () => postprocessPredictions({
        predictionsUri: input.predictionsUri, outDir: input.outDir, name: input.name,
        compartment: input.postprocess.compartment, wholeCell: input.postprocess.wholeCell, nuclear: input.postprocess.nuclear,
        signal, onProgress: progress,
      }));
      return { cells: r.wholeCellCount ?? 0, nuclei: r.nucleusCount ?? 0 };
    });
  };
}
