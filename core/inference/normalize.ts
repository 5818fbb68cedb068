import { equalizeAdaptHist } from './clahe';

/**
 * Mesmer's pre-processing, per channel, as deepcell-toolbox's `mesmer_preprocess` does it
 * (`deepcell_toolbox/processing.py`): `percentile_threshold` (clip each channel at the 99.9th
 * percentile of its non-zero pixels), then `histogram_normalization` (a constant channel becomes
 * zeros; otherwise rescale to [0, 1] and CLAHE with `kernel_size` 128, clip limit 0.01, 256 bins).
 *
 * Reference: Greenwald et al., "Whole-cell segmentation of tissue images with human-level performance
 * using large-scale data annotation and deep learning", Nat. Biotechnol. 40, 555–565 (2022),
 * doi:10.1038/s41587-021-01094-0; deepcell-toolbox `processing.py`.
 */

export interface MesmerNormalizeOptions {
  /** Percentile of the non-zero pixels each channel is clipped at. @default 99.9 */
  clipPercentile?: number;
  /** CLAHE contextual-region size. @default 128 */
  kernelSize?: number;
}

/**
 * numpy's `np.percentile(values, q)` with the default 'linear' method. Reorders `values` in place
 * (selection, O(n) on average) — pass a copy.
 */
export function percentileInPlace(values: Float32Array, q: number): number {
  const n = values.length;
  if (n === 0) return NaN;
  const virtual = (n - 1) * (q / 100);
  const lo = Math.floor(virtual);
  const t = virtual - lo;
  const a = select(values, lo, 0, n - 1);
  if (lo + 1 >= n || t === 0) return a;
  // The next order statistic is the minimum of the part right of lo after selection.
  let b = Infinity;
  for (let i = lo + 1; i < n; i++) if (values[i] < b) b = values[i];
  // numpy's _lerp: from below for t < 0.5, from above otherwise (keeps monotonicity).
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Hoare-style quickselect: after it, values[k] is the k-th smallest and the left part is ≤ it. */
function select(values: Float32Array, k: number, left: number, right: number): number {
  while (right > left) {
    const mid = (left + right) >>> 1;
    // Median of three as pivot, so sorted or constant runs stay linear.
    const a = values[left];
    const b = values[mid];
    const c = values[right];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return values[k];
  }
  return values[k];
}

/**
 * deepcell's `percentile_threshold` for one plane: values above the `q`-th percentile of the non-zero
 * pixels are set to it; an all-zero plane stays zero. Returns a new plane.
 */
export function percentileThreshold(plane: Float32Array, q = 99.9): Float32Array {
  let nonZero = 0;
  for (let i = 0; i < plane.length; i++) if (plane[i] !== 0) nonZero++;
  const out = new Float32Array(plane);
  if (nonZero === 0) return out;
  const values = new Float32Array(nonZero);
  for (let i = 0, j = 0; i < plane.length; i++) if (plane[i] !== 0) values[j++] = plane[i];
  const cut = Math.fround(percentileInPlace(values, q));
  for (let i = 0; i < out.length; i++) if (out[i] > cut) out[i] = cut;
  return out;
}

/**
 * deepcell's `histogram_normalization` for one plane: constant → zeros, else rescale to [0, 1]
 * (float32, as skimage's `rescale_intensity(out_range=(0, 1))`) and CLAHE. Returns a new plane.
 */
export function histogramNormalization(plane: Float32Array, width: number, height: number, kernelSize = 128): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < plane.length; i++) {
    const v = plane[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return new Float32Array(plane.length); // constant (or empty/NaN) channel
  const range = Math.fround(hi - lo);
  const scaled = new Float32Array(plane.length);
  for (let i = 0; i < plane.length; i++) scaled[i] = Math.fround(Math.fround(plane[i] - lo) / range);
  return equalizeAdaptHist(scaled, width, height, { kernelSize, clipLimit: 0.01, nbins: 256 });
}

/** Mesmer pre-processing of one channel plane (threshold, then histogram normalisation). */
export function mesmerNormalizePlane(plane: Float32Array, width: number, height: number, opts: MesmerNormalizeOptions = {}): Float32Array {
  const thresholded = percentileThreshold(plane, opts.clipPercentile ?? 99.9);
  return histogramNormalization(thresholded, width, height, opts.kernelSize ?? 128);
}

/** Channel `c` of an interleaved H×W×C image as its own plane. */
export function extractChannel(interleaved: Float32Array, channels: number, c: number): Float32Array {
  const n = interleaved.length / channels;
  const out = new Float32Array(n);
  for (let i = 0, j = c; i < n; i++, j += channels) out[i] = interleaved[j];
  return out;
}

/** Writes a plane into channel `c` of an interleaved H×W×C image. */
export function insertChannel(interleaved: Float32Array, channels: number, c: number, plane: Float32Array): void {
  for (let i = 0, j = c; i < plane.length; i++, j += channels) interleaved[j] = plane[i];
}

/**
 * Mesmer pre-processing of an interleaved H×W×C float32 image (C = 2: nuclear, membrane), each channel
 * independently. Returns a new interleaved array; the input is not modified.
 */
export function mesmerNormalize(input: Float32Array, width: number, height: number, channels = 2, opts: MesmerNormalizeOptions = {}): Float32Array {
  if (input.length !== width * height * channels) {
    throw new RangeError(`image has ${input.length} values, expected ${height}×${width}×${channels}`);
  }
  const out = new Float32Array(input.length);
  for (let c = 0; c < channels; c++) {
    insertChannel(out, channels, c, mesmerNormalizePlane(extractChannel(input, channels, c), width, height, opts));
  }
  return out;
}
