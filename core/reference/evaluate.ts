import { defaultChannels } from '../convert/default-channels';
import { matchObjects, type ObjectMatch } from '../eval/match';
import { predictArray } from '../predict/pipeline';
import { deepWatershed } from '../postprocess/deep-watershed';
import type { Compartment, DeepWatershedParams } from '../postprocess/params';
import { generateTissue } from '../synth/tissue';
import { loadModelCollection } from '../model/collection';

export interface CompartmentScore extends ObjectMatch {
  compartment: Compartment;
  truthObjects: number;
  predictedObjects: number;
}

export interface ImageScore {
  seed: number;
  size: number;
  channels: number;
  scores: CompartmentScore[];
  predictS: number;
}

/**
 * Score a model collection on held-out synthetic images the way the pipeline would run it: the
 * convert stage's default channels, `predictArray` (Mesmer normalisation, 256-px tiles, blending), deep
 * watershed with the collection's postprocess defaults (or `params` overrides), then matched-object
 * F1 at IoU 0.5 against the generator's ground truth.
 */
export async function evaluateOnSynthetic(opts: {
  modelUri: string; seeds: number[]; size: number; channels?: number;
  params?: Partial<Record<Compartment, Partial<DeepWatershedParams>>>;
}): Promise<ImageScore[]> {
  const model = await loadModelCollection(opts.modelUri);
  const out: ImageScore[] = [];
  for (const seed of opts.seeds) {
    const channels = opts.channels ?? 6;
    const tissue = generateTissue({ width: opts.size, height: opts.size, seed, channels });
    const pick = defaultChannels(tissue.channelNames);
    const n = opts.size * opts.size;
    const input = new Float32Array(n * 2);
    for (const c of pick.nuclear) { const d = tissue.channels[c].data; for (let i = 0; i < n; i++) input[2 * i] += d[i]; }
    for (const c of pick.membrane) { const d = tissue.channels[c].data; for (let i = 0; i < n; i++) input[2 * i + 1] += d[i]; }
    const t0 = performance.now();
    const { heads } = await predictArray({ input, width: opts.size, height: opts.size, umPerPixel: tissue.umPerPixel, model });
    const predictS = (performance.now() - t0) / 1000;
    const scores: CompartmentScore[] = (['whole-cell', 'nuclear'] as const).map((compartment) => {
      const [dist, pix] = compartment === 'whole-cell' ? [heads[0], heads[1]] : [heads[2], heads[3]];
      const interior = new Float32Array(n);
      for (let i = 0; i < n; i++) interior[i] = pix[3 * i + 1];
      const params = { ...(compartment === 'whole-cell' ? model.metadata.postprocess.wholeCell : model.metadata.postprocess.nuclear), ...opts.params?.[compartment] };
      const pred = deepWatershed({ maxima: dist, interior, width: opts.size, height: opts.size }, params);
      const truth = compartment === 'whole-cell' ? tissue.wholeCellMask : tissue.nucleusMask;
      let predicted = 0;
      for (let i = 0; i < n; i++) if (pred[i] > predicted) predicted = pred[i];
      return { compartment, truthObjects: tissue.cellCount, predictedObjects: predicted, ...matchObjects(truth, pred, 0.5) };
    });
    out.push({ seed, size: opts.size, channels, scores, predictS });
  }
  return out;
}
