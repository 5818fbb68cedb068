import type { QuantifyInput, QuantifyResult } from '../../core/contracts';
import * as stage from '../../core/quantify';
import { runStage, type WorkerEnvironment } from '../common';

/** QuPath-style per-cell measurements → `<name>_QUANT.tsv` (and GeoJSON when asked). */
export function makeQuantify(env: WorkerEnvironment) {
  return async function quantify(input: QuantifyInput): Promise<QuantifyResult> {
    return runStage(env, 'quantify', input.progress, async ({ signal, progress, timer }) => {
      const r = await timer.time('compute', () => stage.quantify({
        imageUri: input.imageUri, imageName: input.imageName, wholeCellMaskUri: input.wholeCellMaskUri,
        nucleusMaskUri: input.nucleusMaskUri, outTsvUri: input.tsvUri, geojsonUri: input.geojsonUri,
        legacyNames: input.legacyNames, signal, onProgress: progress,
      }));
      return { cells: r.cells, unpairedNuclei: r.unpairedNuclei, warnings: r.warnings };
    });
  };
}
