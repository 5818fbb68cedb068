import type { ModelMetadata } from '../model/metadata';

/**
 * Device-memory estimates for sizing a GPU worker's prediction slots
 * (`workers/create.ts` `gpuSlotsFromBudget(budget − session, perPrediction)`).
 *
 * One prediction runs one batch at a time on the device (predict.ts stages batch k+1 in host memory and
 * starts it only after run k returned), so its device footprint is the input and output tensors of a
 * batch, the network's intermediate activations for that batch, and one more set of tensors for the
 * device-to-host copies of the outputs. Activations are not in the metadata; they
 * are taken as {@link ACTIVATION_FACTOR} × the batch's input+output bytes. For Mesmer (ResNet-50 +
 * FPN at 256×256×2 in, 8 output channels) that is ≈ 2.5 MiB × 48 ≈ 120 MiB per tile, the order of a
 * ResNet-50 forward pass at this size with onnxruntime's memory-pattern reuse; an over-estimate only
 * costs concurrency, an under-estimate costs an out-of-memory error, so it is deliberately generous.
 * Measure with `nvidia-smi` on the target card and pass `activationFactor` to tune it.
 */
export const ACTIVATION_FACTOR = 48;

/** CUDA context, cuDNN/cuBLAS handles and workspace held once per process. */
export const CUDA_PROCESS_OVERHEAD_BYTES = 768 * 1024 * 1024;

export interface PredictMemoryOptions {
  /** Activation bytes per input+output byte. @default {@link ACTIVATION_FACTOR} */
  activationFactor?: number;
}

/** Bytes of one tile's input and all output heads (float32). */
export function tileTensorBytes(metadata: ModelMetadata): number {
  const t = metadata.tileSize;
  const inChannels = metadata.input.channels.length;
  const outChannels = metadata.outputs.reduce((s, o) => s + (o.shape[3] ?? 1), 0);
  return t * t * (inChannels + outChannels) * 4;
}

/**
 * Device bytes one concurrent prediction needs at `batchSize` tiles per run: tensors and activations of
 * the batch plus the output copies: batch × tileTensorBytes × (activationFactor + 2). The session itself (weights, CUDA
 * context) is per process: see {@link estimateSessionMemoryBytes}.
 */
export function estimatePredictMemoryBytes(metadata: ModelMetadata, batchSize: number, opts: PredictMemoryOptions = {}): number {
  const factor = opts.activationFactor ?? ACTIVATION_FACTOR;
  const perTile = tileTensorBytes(metadata);
  const tiles = Math.max(1, Math.trunc(batchSize));
  return Math.ceil(tiles * perTile * (factor + 1) + tiles * perTile);
}

/** Device bytes held once per process for a model: weights (×2 for optimised copies) plus CUDA overhead. */
export function estimateSessionMemoryBytes(onnxBytes: number, device: 'cpu' | 'cuda' = 'cuda'): number {
  return 2 * onnxBytes + (device === 'cuda' ? CUDA_PROCESS_OVERHEAD_BYTES : 0);
}
