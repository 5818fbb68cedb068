import type { ConvertInput, ConvertResult } from '../../core/contracts';
import * as stage from '../../core/convert';
import { openImage } from '../../core/formats/image';
import { runStage, type WorkerEnvironment } from '../common';

/** OME-TIFF → `input_channels` NPZ (H×W×2 float32: nuclear, membrane) plus its JSON sidecar. */
export function makeConvert(env: WorkerEnvironment) {
  return async function convert(input: ConvertInput): Promise<ConvertResult> {
    return runStage(env, 'convert', input.progress, async ({ signal, progress, timer }) => {
      if (input.blockwiseAbovePixels) {
        // A large image is not converted at all: its blocks read it region by region.
        const info = await timer.time('inputLoad', async () => {
          const src = await openImage(input.imageUri);
          await src.close();
          return src.info;
        });
        if (info.width * info.height > input.blockwiseAbovePixels) {
          return {
            width: info.width, height: info.height, umPerPixel: info.calibrated ? info.physicalSizeX ?? null : null, calibrated: info.calibrated,
            npzBytes: 0, nuclearChannels: [], membraneChannels: [], blockwise: true,
          };
        }
      }
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
