/**
 * How a stage's outcome enters an image's result. Pure functions, shared by the child workflow and by the
 * activity that runs an image's last stages in one go (`postprocessToRecord`), so both build the same result.
 */
import type { ImageResult, PostprocessResult, QuantifyResult, StageMetrics } from './types';

/** Seconds a stage took as reported by its activity: input load + compute + output write. */
export function stageSeconds(m: Pick<StageMetrics, 'inputLoadS' | 'timeS' | 'outputWriteS'>): number {
  return m.inputLoadS + m.timeS + m.outputWriteS;
}

export function applyPostprocess(result: ImageResult, out: PostprocessResult): void {
  result.stageSeconds.postprocess = stageSeconds(out);
  result.nuclei = out.nuclei;
}

export function applyQuantify(result: ImageResult, out: QuantifyResult): void {
  result.stageSeconds.quantify = stageSeconds(out);
  result.cells = out.cells;
  result.warnings = out.warnings;
}
