import { defaultChannels } from '../../core/channels/defaults';
import { convertToNpz } from '../../core/convert';
import { openImage } from '../../core/formats/image';
import type { ConvertResult, ProgressReport, RunSettings } from '../../workflows/types';
import { runStage, type WorkerEnvironment } from '../common';

export interface ConvertInput { imageUri: string; npzUri: string; channels: RunSettings['channels']; progress?: ProgressReport }

/** OME-TIFF → `input_channels` NPZ (H×W×2 float32: nuclear, membrane) plus its JSON sidecar. */
export function makeConvert(env: WorkerEnvironment) {
  return async function convertImage(input: ConvertInput): Promise<ConvertResult> {
    return runStage(env, 'convert', input.progress, async ({ signal, progress, timer }) => {
      let { nuclear, membrane } = input.channels;
      if (!nuclear?.length || !membrane?.length) {
        const src = await timer.time('inputLoad', () => openImage(input.imageUri));
        const defaults = defaultChannels(src.info.channels);
        await src.close();
        nuclear = nuclear?.length ? nuclear : defaults.nuclear;
        membrane = membrane?.length ? membrane : defaults.membrane;
      }
      const r = await timer.time('compute', () => convertToNpz({
        imageUri: input.imageUri, outUri: input.npzUri, nuclearChannels: nuclear!, membraneChannels: membrane!,
        combine: input.channels.combine, signal, onProgress: progress,
      }));
      return {
        width: r.width, height: r.height, umPerPixel: r.umPerPixel ?? null, calibrated: r.calibrated, npzBytes: r.bytes,
        nuclearChannels: r.nuclear, membraneChannels: r.membrane,
      };
    });
  };
}
