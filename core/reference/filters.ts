/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;
/**
 * The reference model's fixed first layer: a Gaussian derivative filter bank ("N-jet", Koenderink &
 * van Doorn 1987, doi:10.1007/BF00318371) applied to both input channels at several scales. For each
 * scale σ, channel c, x-order jx and y-order iy in {0, 1, 2} the feature is
 * `σ^(jx+iy) · ∂^jx_x ∂^iy_y (G_σ * I_c)` — smoothing, gradients and Hessian entries, scale-normalised
 * so magnitudes are comparable across scales. Separable: a horizontal 1×k conv then a vertical k×1 one,
 * exactly as the ONNX graph computes it (cross-correlation, zero padding, "same" size).
 */

/** Scales in pixels at the model's 0.5 µm/pixel: chromatin texture up to whole-cell (≈28 px) extent. */
export const SIGMAS: readonly number[] = [1, 2, 4, 8];
/** Input channels (nuclear, membrane). */
export const INPUT_CHANNELS = 2;
/** Derivative orders per axis (0, 1, 2). */
export const ORDERS = 3;
/** Number of features: scales × channels × 3 × 3. */
export const FEATURE_COUNT = SIGMAS.length * INPUT_CHANNELS * ORDERS * ORDERS;

/** Feature index of (scale s, channel c, x-order jx, y-order iy), matching the graph's channel order. */
export function featureIndex(s: number, c: number, jx: number, iy: number): number {
  return ((s * INPUT_CHANNELS + c) * ORDERS + jx) * ORDERS + iy;
}

/** Radius of the taps for σ. */
export function tapRadius(sigma: number): number {
  return math.ceil(3 * sigma);
}

/** 1-D taps of the scale-normalised Gaussian derivative of `order` (0, 1, 2), as float32, length 2r+1. */
export function derivativeTaps(sigma: number, order: number): Float32Array {
  const r = tapRadius(sigma);
  const g: number[] = [];
  let sum = 0;
  for (let t = -r; t <= r; t++) {
    const v = math.exp(-(t * t) / (2 * sigma * sigma));
    g.push(v);
    sum += v;
  }
  const out = new Float32Array(2 * r + 1);
  for (let k = 0; k < out.length; k++) {
    const t = k - r, gk = g[k] / sum;
    // Correlation taps: out[x] = Σ taps[k]·in[x + k − r], so the first derivative tap is +t·G/σ².
    out[k] = order === 0 ? gk : order === 1 ? (t / (sigma * sigma)) * gk * sigma : ((t * t) / sigma ** 4 - 1 / (sigma * sigma)) * gk * sigma * sigma;
  }
  if (order === 2) {
    // Remove the truncation residue so a flat image gives exactly zero curvature.
    let mean = 0;
    for (const v of out) mean += v;
    mean /= out.length;
    for (let k = 0; k < out.length; k++) out[k] = math.fround(out[k] - mean);
  }
  return out;
}

/** Horizontal (along x) zero-padded correlation of a row-major plane with taps. */
function correlateRows(src: Float32Array, width: number, height: number, taps: Float32Array, dst: Float32Array): void {
  const r = (taps.length - 1) >> 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const k0 = math.max(0, r - x), k1 = math.min(taps.length, width - x + r);
      let acc = 0;
      for (let k = k0; k < k1; k++) acc += taps[k] * src[row + x + k - r];
      dst[row + x] = acc;
    }
  }
}

/** Vertical (along y) zero-padded correlation. */
function correlateColumns(src: Float32Array, width: number, height: number, taps: Float32Array, dst: Float32Array): void {
  const r = (taps.length - 1) >> 1;
  dst.fill(0);
  for (let y = 0; y < height; y++) {
    const k0 = math.max(0, r - y), k1 = math.min(taps.length, height - y + r);
    const out = y * width;
    for (let k = k0; k < k1; k++) {
      const w = taps[k], inRow = (y + k - r) * width;
      for (let x = 0; x < width; x++) dst[out + x] += w * src[inRow + x];
    }
  }
}

/**
 * The filter bank on one image: `planes[c]` is channel c (row-major float32, already normalised).
 * Returns FEATURE_COUNT planes in {@link featureIndex} order.
 */
export function filterBank(planes: readonly Float32Array[], width: number, height: number): Float32Array[] {
  const features: Float32Array[] = new Array(FEATURE_COUNT);
  const horizontal = new Float32Array(width * height);
  SIGMAS.forEach((sigma, s) => {
    const taps = [0, 1, 2].map((o) => derivativeTaps(sigma, o));
    for (let c = 0; c < INPUT_CHANNELS; c++) {
      for (let jx = 0; jx < ORDERS; jx++) {
        correlateRows(planes[c], width, height, taps[jx], horizontal);
        for (let iy = 0; iy < ORDERS; iy++) {
          const out = new Float32Array(width * height);
          correlateColumns(horizontal, width, height, taps[iy], out);
          features[featureIndex(s, c, jx, iy)] = out;
        }
      }
    }
  });
  return features;
}
