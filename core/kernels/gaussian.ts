import type { Plane } from '../formats/ndarray';

/** Options of {@link gaussianFilter}. */
export interface GaussianOptions {
  /** Kernel half-width in standard deviations; radius = ⌊truncate·σ + 0.5⌋. @default 4 */
  truncate?: number;
}

/**
 * 1-D gaussian weights exactly as SciPy builds them (`_gaussian_kernel1d`, order 0): samples of
 * exp(−x²/2σ²) for x = −r…r, divided by their sum, where the sum follows NumPy's pairwise summation
 * (eight running partial sums) so the weights agree bit for bit.
 */
export function gaussianWeights(sigma: number, radius: number): Float64Array {
  const n = 2 * radius + 1;
  const phi = new Float64Array(n);
  const scale = -0.5 / (sigma * sigma);
  for (let i = 0; i < n; i++) { const x = i - radius; phi[i] = Math.exp(scale * (x * x)); }
  const sum = numpySum(phi);
  for (let i = 0; i < n; i++) phi[i] = phi[i] / sum;
  return phi;
}

/** NumPy's float64 `sum` for short arrays (below its 128-element block): 8-way unrolled partial sums. */
function numpySum(a: Float64Array): number {
  const n = a.length;
  if (n < 8) { let s = 0; for (let i = 0; i < n; i++) s += a[i]; return s; }
  const r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
  let i = 8;
  for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[i + j];
  let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; i < n; i++) s += a[i];
  return s;
}

/** Index into [0, n) under SciPy's 'reflect' boundary (d c b a | a b c d | d c b a). */
function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/**
 * Separable gaussian smoothing of a float32 image with SciPy `ndimage.gaussian_filter` semantics, which
 * is what deepcell-toolbox's `deep_watershed` calls (no mode given, so mode 'reflect'; truncate 4.0).
 * Rows (axis 0) are filtered first, then columns (axis 1); each pass accumulates in float64 in SciPy's
 * order (centre tap, then symmetric pairs from the outermost inwards) and rounds to float32 between
 * passes, as SciPy does for a float32 output. σ = 0 returns an unchanged copy (SciPy skips the axis).
 * The input is not modified.
 *
 * @see SciPy `scipy.ndimage.gaussian_filter`, `correlate1d` (ni_filters.c, symmetric branch).
 */
export function gaussianFilter(image: Plane<Float32Array>, sigma: number, opts: GaussianOptions = {}): Float32Array {
  const { data, width, height } = image;
  if (!(sigma >= 0)) throw new RangeError(`gaussian sigma must be >= 0, got ${sigma}`);
  if (sigma <= 1e-15 || data.length === 0) return data.slice();
  const radius = Math.floor((opts.truncate ?? 4) * sigma + 0.5);
  const w = gaussianWeights(sigma, radius);
  const vertical = new Float32Array(data.length);
  filterColumns(data, vertical, width, height, w, radius);
  const out = new Float32Array(data.length);
  filterRows(vertical, out, width, height, w, radius);
  return out;
}

/** Along axis 0: a float64 accumulator row so memory is read row by row, not down columns. */
function filterColumns(src: Float32Array, dst: Float32Array, width: number, height: number, w: Float64Array, radius: number): void {
  const acc = new Float64Array(width);
  const centre = w[radius];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) acc[x] = src[row + x] * centre;
    for (let j = radius; j >= 1; j--) {
      const above = reflectIndex(y - j, height) * width;
      const below = reflectIndex(y + j, height) * width;
      const wj = w[radius - j];
      for (let x = 0; x < width; x++) acc[x] += (src[above + x] + src[below + x]) * wj;
    }
    for (let x = 0; x < width; x++) dst[row + x] = acc[x];
  }
}

/**
 * Along axis 1: each row is copied into a reflect-padded float64 line so the inner loops have no bounds
 * checks, then accumulated tap by tap across the row (centre, then pairs from the outermost in: per
 * pixel the same order as a loop over taps, but the pixels' sums are independent, so the processor
 * overlaps them instead of waiting on one chain of additions per pixel).
 */
function filterRows(src: Float32Array, dst: Float32Array, width: number, height: number, w: Float64Array, radius: number): void {
  const line = new Float64Array(width + 2 * radius);
  const acc = new Float64Array(width);
  const centre = w[radius];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    // Reflected ends by index arithmetic; the interior as a plain run.
    for (let i = 0; i < radius; i++) { line[i] = src[row + reflectIndex(i - radius, width)]; line[radius + width + i] = src[row + reflectIndex(width + i, width)]; }
    for (let x = 0; x < width; x++) line[radius + x] = src[row + x];
    for (let x = 0; x < width; x++) acc[x] = line[x + radius] * centre;
    for (let j = radius; j >= 1; j--) {
      const wj = w[radius - j];
      const lo = radius - j, hi = radius + j;
      for (let x = 0; x < width; x++) acc[x] += (line[x + lo] + line[x + hi]) * wj;
    }
    for (let x = 0; x < width; x++) dst[row + x] = acc[x];
  }
}
