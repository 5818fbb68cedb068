import { Random } from '../synth/random';
import { FEATURE_COUNT } from './filters';
import { activate, HEADS, OUTPUT_ROWS, type ReferenceWeights } from './network';

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;

/**
 * Training pixels: `features` is count × FEATURE_COUNT, `targets` count × OUTPUT_ROWS holding
 * [whole-cell inner distance, whole-cell one-hot ×3, nuclear inner distance, nuclear one-hot ×3].
 */
export interface TrainingSet {
  count: number;
  features: Float32Array;
  targets: Float32Array;
}

export interface FitOptions {
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Loss weight of the inner-distance heads relative to the pixelwise heads. */
  distanceWeight: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Fit the perceptron by minibatch Adam (Kingma & Ba 2015, arXiv:1412.6980) on binary cross-entropy for
 * the sigmoid (inner-distance, soft targets) heads and softmax cross-entropy for the pixelwise heads.
 * Features are standardised first and the standardisation is folded into the first layer, so the
 * returned weights apply to raw filter-bank features. Deterministic for a seed.
 */
export function fitPerceptron(data: TrainingSet, opts: FitOptions): ReferenceWeights {
  const F = FEATURE_COUNT, H = opts.hidden, O = OUTPUT_ROWS, N = data.count;
  const rng = new Random(opts.seed);
  const mean = new Float64Array(F), std = new Float64Array(F);
  for (let i = 0; i < N; i++) for (let f = 0; f < F; f++) mean[f] += data.features[i * F + f];
  for (let f = 0; f < F; f++) mean[f] /= N;
  for (let i = 0; i < N; i++) for (let f = 0; f < F; f++) std[f] += (data.features[i * F + f] - mean[f]) ** 2;
  for (let f = 0; f < F; f++) std[f] = math.sqrt(std[f] / N) || 1;
  const x = new Float32Array(N * F);
  for (let i = 0; i < N; i++) for (let f = 0; f < F; f++) x[i * F + f] = (data.features[i * F + f] - mean[f]) / std[f];

  // He initialisation; parameters in one vector so Adam is one loop.
  const sizes = [H * F, H, O * H, O];
  const total = sizes.reduce((a, b) => a + b, 0);
  const p = new Float64Array(total);
  const W1 = 0, B1 = H * F, W2 = B1 + H, B2 = W2 + O * H;
  for (let k = 0; k < H * F; k++) p[W1 + k] = rng.normal() * math.sqrt(2 / F);
  for (let k = 0; k < O * H; k++) p[W2 + k] = rng.normal() * math.sqrt(1 / H);
  const m = new Float64Array(total), v = new Float64Array(total), g = new Float64Array(total);
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  let step = 0;

  const order = new Int32Array(N);
  for (let i = 0; i < N; i++) order[i] = i;
  const hidden = new Float64Array(H), out = new Float64Array(O), dOut = new Float64Array(O), dHidden = new Float64Array(H);
  const isSigmoid = HEADS.flatMap((h) => Array<boolean>(h.channels).fill(h.activation === 'sigmoid'));
  const rowWeight = HEADS.flatMap((h) => Array<number>(h.channels).fill(h.activation === 'sigmoid' ? opts.distanceWeight : 1));
  const stepsPerEpoch = math.ceil(N / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;

  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    for (let i = N - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i]; order[i] = order[j]; order[j] = t;
    }
    let epochLoss = 0;
    for (let start = 0; start < N; start += opts.batchSize) {
      const end = math.min(N, start + opts.batchSize);
      g.fill(0);
      for (let b = start; b < end; b++) {
        const i = order[b], xi = i * F;
        for (let h = 0; h < H; h++) {
          let acc = p[B1 + h];
          const row = W1 + h * F;
          for (let f = 0; f < F; f++) acc += p[row + f] * x[xi + f];
          hidden[h] = acc > 0 ? acc : 0;
        }
        for (let o = 0; o < O; o++) {
          let acc = p[B2 + o];
          const row = W2 + o * H;
          for (let h = 0; h < H; h++) acc += p[row + h] * hidden[h];
          out[o] = acc;
        }
        activate(out);
        // For sigmoid+BCE and softmax+CE alike, d(loss)/d(logit) = prediction − target.
        for (let o = 0; o < O; o++) {
          const t = data.targets[i * O + o];
          dOut[o] = rowWeight[o] * (out[o] - t);
          if (t > 0) epochLoss -= rowWeight[o] * t * math.log(math.max(out[o], 1e-7));
          if (isSigmoid[o] && t < 1) epochLoss -= rowWeight[o] * (1 - t) * math.log(math.max(1 - out[o], 1e-7));
        }
        dHidden.fill(0);
        for (let o = 0; o < O; o++) {
          const d = dOut[o], row = W2 + o * H;
          g[B2 + o] += d;
          for (let h = 0; h < H; h++) {
            g[row + h] += d * hidden[h];
            dHidden[h] += d * p[row + h];
          }
        }
        for (let h = 0; h < H; h++) {
          if (hidden[h] <= 0) continue;
          const d = dHidden[h], row = W1 + h * F;
          g[B1 + h] += d;
          for (let f = 0; f < F; f++) g[row + f] += d * x[xi + f];
        }
      }
      // Adam with cosine-decayed step size.
      step++;
      const lr = opts.learningRate * 0.5 * (1 + math.cos(math.PI * step / totalSteps));
      const scale = 1 / (end - start);
      const c1 = 1 - beta1 ** step, c2 = 1 - beta2 ** step;
      for (let k = 0; k < total; k++) {
        const gk = g[k] * scale;
        m[k] = beta1 * m[k] + (1 - beta1) * gk;
        v[k] = beta2 * v[k] + (1 - beta2) * gk * gk;
        p[k] -= lr * (m[k] / c1) / (math.sqrt(v[k] / c2) + eps);
      }
    }
    opts.onEpoch?.(epoch + 1, epochLoss / N);
  }

  // Fold standardisation: w·(f − μ)/σ + b = (w/σ)·f + (b − Σ w·μ/σ).
  const w1 = new Float32Array(H * F), b1 = new Float32Array(H);
  for (let h = 0; h < H; h++) {
    let bias = p[B1 + h];
    for (let f = 0; f < F; f++) {
      const w = p[W1 + h * F + f] / std[f];
      w1[h * F + f] = w;
      bias -= w * mean[f];
    }
    b1[h] = bias;
  }
  return { hidden: H, w1, b1, w2: Float32Array.from(p.subarray(W2, W2 + O * H)), b2: Float32Array.from(p.subarray(B2, B2 + O)) };
}
