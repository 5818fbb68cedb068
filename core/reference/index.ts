import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root';
import { MESMER_NUCLEAR_DEFAULTS, MESMER_WHOLE_CELL_DEFAULTS } from '../postprocess/params';
import { storeFor } from '../storage';
import { encodeModelCollection, loadModelCollection } from '../model/collection';
import type { ModelMetadata } from '../model/metadata';
import { fitPerceptron } from './fit';
import { FEATURE_COUNT, SIGMAS } from './filters';
import { buildReferenceOnnx, INPUT_NAME, OUTPUT_NAMES } from './graph';
import type { ReferenceWeights } from './network';
import { referenceTestTensors } from './test-tensors';
import { buildTrainingSet } from './training';

/**
 * The reference model: a small fully convolutional network whose last two layers are fitted, in this
 * process, on the synthetic generator's ground truth, and written as ONNX with Mesmer's contract. No
 * download, no GPU: the repository builds it reproducibly (same seed and code → same bytes on the same
 * platform). It is NOT Mesmer and is only meant for synthetic-looking data (demo, tests, benchmarks).
 */

/** Everything that shapes the fit. Bump `code` whenever training code changes meaning. */
export const REFERENCE_RECIPE = {
  code: 1,
  seed: 20240601,
  trainingImages: 6,
  imageSize: 512,
  samplesPerImage: 12000,
  hidden: 48,
  epochs: 6,
  batchSize: 256,
  learningRate: 3e-3,
  distanceWeight: 2,
  sigmas: SIGMAS,
} as const;

export const REFERENCE_MODEL_NAME = 'tessel-reference';
export const REFERENCE_FILE = 'tessel-reference-v1.zip';

/** Version string: the bundle's version (1.1: test tensors) plus a digest of the recipe, so the cache follows both. */
export function referenceVersion(recipe: typeof REFERENCE_RECIPE = REFERENCE_RECIPE): string {
  return `1.1.0+${createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12)}`;
}

export function referenceMetadata(version: string): ModelMetadata {
  const tile = 256;
  return {
    schemaVersion: 1,
    name: REFERENCE_MODEL_NAME,
    version,
    description: 'Small fully convolutional reference network with Mesmer\'s input/output contract: a fixed Gaussian-derivative '
      + `filter bank (σ = ${SIGMAS.join(', ')} px) on the nuclear and membrane channels, a fitted ${REFERENCE_RECIPE.hidden}-unit 1×1 layer `
      + 'and four fitted heads (inner distance with sigmoid, pixelwise [border, interior, background] with softmax).',
    provenance: 'Reference model fitted on Tessel\'s synthetic tissue generator (core/synth) by core/reference, '
      + `recipe ${JSON.stringify(REFERENCE_RECIPE)}. NOT Mesmer and not trained on real tissue: use it for demos, tests and `
      + 'benchmarks; for real images, convert Mesmer (docs/models.md).',
    input: { name: INPUT_NAME, shape: [null, tile, tile, 2], dtype: 'float32', channels: ['nuclear', 'membrane'] },
    outputs: [
      { name: OUTPUT_NAMES[0], meaning: 'whole-cell-inner-distance', shape: [null, tile, tile, 1] },
      { name: OUTPUT_NAMES[1], meaning: 'whole-cell-pixelwise', shape: [null, tile, tile, 3], interiorChannel: 1 },
      { name: OUTPUT_NAMES[2], meaning: 'nuclear-inner-distance', shape: [null, tile, tile, 1] },
      { name: OUTPUT_NAMES[3], meaning: 'nuclear-pixelwise', shape: [null, tile, tile, 3], interiorChannel: 1 },
    ],
    umPerPixel: 0.5,
    tileSize: tile,
    strideRatio: 0.75,
    normalization: { kind: 'mesmer', clipPercentile: 99.9, kernelSize: 128 },
    postprocess: { wholeCell: { ...MESMER_WHOLE_CELL_DEFAULTS }, nuclear: { ...MESMER_NUCLEAR_DEFAULTS } },
  };
}

export interface BuildProgress {
  onProgress?: (message: string) => void;
}

/** Fit the reference weights (the slow part: tens of seconds on two cores). */
export function fitReferenceWeights(opts: BuildProgress = {}, recipe: typeof REFERENCE_RECIPE = REFERENCE_RECIPE): ReferenceWeights {
  const log = opts.onProgress ?? (() => undefined);
  const t0 = Date.now();
  const data = buildTrainingSet({
    images: recipe.trainingImages, size: recipe.imageSize, seed: recipe.seed, samplesPerImage: recipe.samplesPerImage,
    onImage: (done, total) => log(`reference model: prepared synthetic training image ${done}/${total}`),
  });
  log(`reference model: ${data.count} training pixels × ${FEATURE_COUNT} features in ${((Date.now() - t0) / 1000).toFixed(1)} s; fitting`);
  return fitPerceptron(data, {
    hidden: recipe.hidden, epochs: recipe.epochs, batchSize: recipe.batchSize, learningRate: recipe.learningRate,
    seed: recipe.seed, distanceWeight: recipe.distanceWeight,
    onEpoch: (epoch, loss) => log(`reference model: epoch ${epoch}/${recipe.epochs}, loss ${loss.toFixed(4)}`),
  });
}

/** Build the reference model collection ZIP in memory. */
export function buildReferenceCollection(opts: BuildProgress = {}): Uint8Array {
  const version = referenceVersion();
  const weights = fitReferenceWeights(opts);
  const onnx = buildReferenceOnnx(weights, { version, docString: 'Tessel reference model fitted on synthetic tissue (not Mesmer).' });
  const tests = referenceTestTensors(weights);
  return encodeModelCollection(onnx, { ...referenceMetadata(version), testTensors: tests.spec }, 'reference model', tests.files);
}

export interface EnsureReferenceModelOptions extends BuildProgress {
  /** Folder holding the cached collection. @default `<repo>/.tessel/models` */
  cacheDir?: string;
  /** Rebuild even if a current cached copy exists. */
  force?: boolean;
}

/** `<repo>/.tessel/models`. */
export function defaultModelCacheDir(): string {
  return join(PACKAGE_ROOT, '.tessel', 'models');
}

/**
 * Path of the reference model collection (`<cacheDir>/tessel-reference-v1.zip`), building it first when
 * it is missing, unreadable, or was built by another recipe version. Written atomically, so concurrent
 * callers at worst both build it.
 */
export async function ensureReferenceModel(opts: EnsureReferenceModelOptions = {}): Promise<string> {
  const path = join(opts.cacheDir ?? defaultModelCacheDir(), REFERENCE_FILE);
  const version = referenceVersion();
  if (!opts.force && existsSync(path)) {
    try {
      const cached = await loadModelCollection(path);
      if (cached.metadata.name === REFERENCE_MODEL_NAME && cached.metadata.version === version) return path;
      opts.onProgress?.(`reference model: cached ${cached.metadata.version} is not ${version}; rebuilding`);
    } catch (e) {
      opts.onProgress?.(`reference model: cached copy unusable (${(e as Error).message}); rebuilding`);
    }
  }
  opts.onProgress?.(`reference model: building ${REFERENCE_FILE} (${version}) from synthetic data`);
  const t0 = Date.now();
  const zip = buildReferenceCollection(opts);
  await storeFor(path).writeAtomic(path, zip);
  opts.onProgress?.(`reference model: wrote ${path} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return path;
}
