import { encodeTestTensors, FP32_TOLERANCE } from '../model/test-tensors';
import { OUTPUT_NAMES } from './graph';
import { forwardImage, HEADS, type ReferenceWeights } from './network';
import { prepareSyntheticImage } from './training';

/** Seed of the test tile: not one of the training images (recipe seed + 0…5). */
const TEST_SEED = 777_001;
const TEST_TILE = 256;

/**
 * The reference model's test tensors: one normalised 256×256 synthetic tile (prepared as the pipeline prepares
 * an image) and the outputs of the TypeScript forward pass (`forwardImage`), the model's source — computed
 * without onnxruntime, so the check compares two implementations.
 */
export function referenceTestTensors(weights: ReferenceWeights): ReturnType<typeof encodeTestTensors> {
  const img = prepareSyntheticImage(TEST_TILE, TEST_SEED, 6);
  const heads = forwardImage(img.input, TEST_TILE, TEST_TILE, weights);
  return encodeTestTensors({
    source: 'the reference model\'s TypeScript forward pass (core/reference/network.ts forwardImage)',
    input: { data: img.input, shape: [1, TEST_TILE, TEST_TILE, 2], dtype: 'float32' },
    outputs: HEADS.map((h, k) => ({
      name: OUTPUT_NAMES[k], expected: { data: heads[k], shape: [1, TEST_TILE, TEST_TILE, h.channels], dtype: 'float32' }, ...FP32_TOLERANCE,
    })),
  });
}
