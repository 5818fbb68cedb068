import { defaultChannels } from '../convert/default-channels';
import { mesmerNormalize } from '../predict/normalize';
import { generateTissue } from '../synth/tissue';
import { Random } from '../synth/random';
import type { TrainingSet } from './fit';
import { FEATURE_COUNT, filterBank } from './filters';
import { OUTPUT_ROWS } from './network';
import { innerDistanceTarget, pixelwiseClass } from './targets';

export interface TrainingImage {
  /** Normalised model input, H×W×2 interleaved (nuclear, membrane). */
  input: Float32Array;
  width: number;
  height: number;
  wholeCellMask: Int32Array;
  nucleusMask: Int32Array;
}

/**
 * A synthetic image prepared exactly as the pipeline prepares a real one: the default channel choice
 * of the convert stage (`defaultChannels`: DAPI as nuclear, known membrane stains summed as membrane),
 * then Mesmer normalisation (`mesmerNormalize`, 99.9th-percentile clip + CLAHE) — so the model is
 * fitted on the very inputs it will see.
 */
export function prepareSyntheticImage(size: number, seed: number, channels: number): TrainingImage {
  const tissue = generateTissue({ width: size, height: size, seed, channels });
  const pick = defaultChannels(tissue.channelNames);
  const n = size * size;
  const raw = new Float32Array(n * 2);
  for (const c of pick.nuclear) { const d = tissue.channels[c].data; for (let i = 0; i < n; i++) raw[2 * i] += d[i]; }
  for (const c of pick.membrane) { const d = tissue.channels[c].data; for (let i = 0; i < n; i++) raw[2 * i + 1] += d[i]; }
  return { input: mesmerNormalize(raw, size, size, 2), width: size, height: size, wholeCellMask: tissue.wholeCellMask, nucleusMask: tissue.nucleusMask };
}

export interface TrainingSetOptions {
  images: number;
  size: number;
  seed: number;
  samplesPerImage: number;
  onImage?: (done: number, total: number) => void;
}

/** Channel counts cycled through the training images, so every default membrane mix is seen. */
const CHANNEL_MIX = [6, 4, 10, 8];

/** Random training pixels (filter-bank features and Mesmer targets) from seeded synthetic images. */
export function buildTrainingSet(opts: TrainingSetOptions): TrainingSet {
  const F = FEATURE_COUNT, O = OUTPUT_ROWS;
  const count = opts.images * opts.samplesPerImage;
  const features = new Float32Array(count * F);
  const targets = new Float32Array(count * O);
  const rng = new Random(opts.seed ^ 0x5eed);
  let at = 0;
  for (let k = 0; k < opts.images; k++) {
    const img = prepareSyntheticImage(opts.size, opts.seed + k, CHANNEL_MIX[k % CHANNEL_MIX.length]);
    const n = img.width * img.height;
    const planes = [0, 1].map((c) => {
      const p = new Float32Array(n);
      for (let i = 0; i < n; i++) p[i] = img.input[2 * i + c];
      return p;
    });
    const bank = filterBank(planes, img.width, img.height);
    const wcDist = innerDistanceTarget(img.wholeCellMask, img.width, img.height);
    const wcClass = pixelwiseClass(img.wholeCellMask, img.width, img.height);
    const nucDist = innerDistanceTarget(img.nucleusMask, img.width, img.height);
    const nucClass = pixelwiseClass(img.nucleusMask, img.width, img.height);
    for (let s = 0; s < opts.samplesPerImage; s++, at++) {
      const i = rng.int(n);
      for (let f = 0; f < F; f++) features[at * F + f] = bank[f][i];
      const t = at * O;
      targets[t] = wcDist[i];
      targets[t + 1 + wcClass[i]] = 1;
      targets[t + 4] = nucDist[i];
      targets[t + 5 + nucClass[i]] = 1;
    }
    opts.onImage?.(k + 1, opts.images);
  }
  return { count, features, targets };
}
