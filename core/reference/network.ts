import { FEATURE_COUNT, filterBank, INPUT_CHANNELS } from './filters';

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;

/**
 * The reference model's fitted part: a per-pixel two-layer perceptron over the filter-bank features
 * (a 1×1 conv + ReLU, then 1×1 convs per head), with feature standardisation folded into the first
 * layer. Output rows: 0 whole-cell inner distance (sigmoid), 1–3 whole-cell [border, interior,
 * background] (softmax), 4 nuclear inner distance (sigmoid), 5–7 nuclear pixelwise (softmax).
 */
export interface ReferenceWeights {
  hidden: number;
  /** hidden × FEATURE_COUNT, row-major. */
  w1: Float32Array;
  b1: Float32Array;
  /** OUTPUT_ROWS × hidden, row-major. */
  w2: Float32Array;
  b2: Float32Array;
}

export const OUTPUT_ROWS = 8;
/** Heads in Mesmer's order: first output row and channel count of each. */
export const HEADS: readonly { row: number; channels: number; activation: 'sigmoid' | 'softmax' }[] = [
  { row: 0, channels: 1, activation: 'sigmoid' },
  { row: 1, channels: 3, activation: 'softmax' },
  { row: 4, channels: 1, activation: 'sigmoid' },
  { row: 5, channels: 3, activation: 'softmax' },
];

/** Apply the head activations to one pixel's 8 logits, in place. */
export function activate(logits: Float64Array | Float32Array): void {
  for (const h of HEADS) {
    if (h.activation === 'sigmoid') {
      logits[h.row] = 1 / (1 + math.exp(-logits[h.row]));
    } else {
      let max = -Infinity;
      for (let k = 0; k < h.channels; k++) max = math.max(max, logits[h.row + k]);
      let sum = 0;
      for (let k = 0; k < h.channels; k++) sum += (logits[h.row + k] = math.exp(logits[h.row + k] - max));
      for (let k = 0; k < h.channels; k++) logits[h.row + k] /= sum;
    }
  }
}

/**
 * The whole model in TypeScript, for testing the ONNX graph against: `input` is one image,
 * H×W×2 interleaved (already normalised). Returns the four heads, each H×W×C interleaved.
 */
export function forwardImage(input: Float32Array, width: number, height: number, weights: ReferenceWeights): Float32Array[] {
  const n = width * height;
  const planes = Array.from({ length: INPUT_CHANNELS }, (_, c) => {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = input[i * INPUT_CHANNELS + c];
    return p;
  });
  const features = filterBank(planes, width, height);
  const heads = HEADS.map((h) => new Float32Array(n * h.channels));
  const hidden = new Float64Array(weights.hidden);
  const logits = new Float64Array(OUTPUT_ROWS);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < weights.hidden; h++) {
      let acc = weights.b1[h];
      const row = h * FEATURE_COUNT;
      for (let f = 0; f < FEATURE_COUNT; f++) acc += weights.w1[row + f] * features[f][i];
      hidden[h] = acc > 0 ? acc : 0;
    }
    for (let o = 0; o < OUTPUT_ROWS; o++) {
      let acc = weights.b2[o];
      for (let h = 0; h < weights.hidden; h++) acc += weights.w2[o * weights.hidden + h] * hidden[h];
      logits[o] = acc;
    }
    activate(logits);
    HEADS.forEach((head, k) => {
      for (let c = 0; c < head.channels; c++) heads[k][i * head.channels + c] = logits[head.row + c];
    });
  }
  return heads;
}
