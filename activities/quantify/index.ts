import { quantifyImage as quantify } from '../../core/quantify/run';
import type { ProgressReport, QuantifyResult } from '../../workflows/types';
import { runStage, type WorkerEnvironment } from '../common';

export interface QuantifyInput {
  imageUri: string; imageName: string; wholeCellMaskUri: string; nucleusMaskUri: string; tsvUri: string;
  geojsonUri?: string; legacyNames: boolean; progress?: ProgressReport;
}

/** QuPath-style per-cell measurements → `<name>_QUANT.tsv` (and GeoJSON when asked). */
export function makeQuantify(env: WorkerEnvironment) {
  return async function quantifyImage(input: QuantifyInput): Promise<QuantifyResult> {
    return runStage(env, 'quantify', input.progress, async ({ signal, progress, timer }) => {
      const r = await timer.time('compute', () => quantify({
        imageUri: input.imageUri, imageName: input.imageName, wholeCellMaskUri: input.wholeCellMaskUri,
        nucleusMaskUri: input.nucleusMaskUri, outTsvUri: input.tsvUri, geojsonUri: input.geojsonUri,
        legacyNames: input.legacyNames, signal, onProgress: progress,
      }));
      return { cells: r.cells, unpairedNuclei: r.unpairedNuclei, warnings: r.warnings };
    });
  };
}
