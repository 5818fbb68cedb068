import type { ConvertInput, ConvertResult } from '../../core/contracts';
import * as stage from '../../core/convert';
import { runStage, type WorkerEnvironment } from '../common';

/** OME-TIFF → `input_channels` NPZ (H×W×2 float32: nuclear, membrane) plus its JSON sidecar. */
export function makeConvert(env: WorkerEnvironment) {
  return async function convert(input: ConvertInput): Promise<ConvertResult> {
    return runStage(env, 'convert', input.progress, async ({ signal, progress, timer }) => {
      const r = await timer.time('compute', () => stage.convert({
        imageUri: input.imageUri, outUri: input.npzUri, nuclearChannels: input.channels.nuclear,
        membraneChannels: input.channels.membrane, combine: input.channels.combine, signal, onProgress: progress,
      }));
      return {
        width: r.width, height: r.height, umPerPixel: r.umPerPixel ?? null, calibrated: r.calibrated, npzBytes: r.bytes,
        nuclearChannels: r.nuclear, membraneChannels: r.membrane,
      };
    });
  };
}
