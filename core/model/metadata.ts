import { z } from 'zod';
import { PostprocessDefaults } from '../postprocess/params';
import { TestTensors } from './test-tensors';

/** What each model output head means. Mesmer has all four, in this order. */
export const HeadMeaning = z.enum([
  'whole-cell-inner-distance', // (N,H,W,1)
  'whole-cell-pixelwise', // (N,H,W,3): [border, interior, background]; interior is channel 1
  'nuclear-inner-distance', // (N,H,W,1)
  'nuclear-pixelwise', // (N,H,W,3)
]);
export type HeadMeaning = z.infer<typeof HeadMeaning>;

/** Dimension: a fixed size, or null for a dynamic one (batch). */
const Dim = z.number().int().positive().nullable();

/**
 * `segmentation/model_metadata.json` inside a model collection. Everything the pipeline needs to run a
 * model comes from here, so a converted Mesmer model drops in through its metadata alone.
 */
export const ModelMetadata = z.object({
  schemaVersion: z.literal(1),
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().default(''),
  /** Free text on provenance and honest limits (e.g. "reference model fitted on synthetic data"). */
  provenance: z.string().default(''),
  input: z.object({
    name: z.string().min(1),
    /** NHWC, e.g. [null, 256, 256, 2]. */
    shape: z.tuple([Dim, Dim, Dim, Dim]),
    dtype: z.literal('float32'),
    channels: z.tuple([z.literal('nuclear'), z.literal('membrane')]),
  }),
  outputs: z.array(z.object({
    name: z.string().min(1),
    meaning: HeadMeaning,
    /** NHWC, e.g. [null, 256, 256, 3]. */
    shape: z.tuple([Dim, Dim, Dim, Dim]),
    /** For pixelwise heads: the channel holding interior probability (Mesmer: 1). */
    interiorChannel: z.number().int().nonnegative().optional(),
  })).length(4),
  /** The model's resolution; inputs at another resolution are resampled to it. */
  umPerPixel: z.number().positive(),
  tileSize: z.number().int().positive(),
  /** Tile stride as a fraction of tileSize (Mesmer: 0.75). */
  strideRatio: z.number().gt(0).lte(1),
  normalization: z.object({
    kind: z.enum(['mesmer', 'none']),
    clipPercentile: z.number().gt(0).lte(100).default(99.9),
    kernelSize: z.number().int().positive().default(128),
  }),
  postprocess: PostprocessDefaults,
  /** Test input and expected outputs (bioimage.io style), verified when a session is created: core/model/verify.ts. */
  testTensors: TestTensors.optional(),
});
export type ModelMetadata = z.infer<typeof ModelMetadata>;
