import type { Plane } from '../formats/ndarray';
import { WASM_BASE64 } from './wasm/gaussian-wasm';

/** Options of {@link gaussianFilter}. */
export interface GaussianOptions {
  /** Kernel half-width in standard deviations; radius = ⌊truncate·σ + 0.5⌋. @default 4 */
  truncate?: number;
  /** Pixels per band of rows the passes work through (tests use small bands). @default 2²⁰ */
  bandPixels?: number;
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

/** The part of the WebAssembly API used here: Node has it, TypeScript's ES2022 library does not declare it. */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WasmApi };

/** The SIMD passes (core/kernels/wasm/gaussian.wat), compiled once per thread on first use. */
let compiled: object | undefined;

/** Pixels per band of rows: the kernel's memory is two bands and their context (~8 MiB), whatever the image size. */
const BAND_PIXELS = 1 << 20;

/**
 * Separable gaussian smoothing of a float32 image with SciPy `ndimage.gaussian_filter` semantics, which
 * is what deepcell-toolbox's `deep_watershed` calls (no mode given, so mode 'reflect'; truncate 4.0).
 * Rows (axis 0) are filtered first, then columns (axis 1); each pass accumulates in float64 in SciPy's
 * order (centre tap, then symmetric pairs from the outermost inwards) and rounds to float32 between
 * passes, as SciPy does for a float32 output. σ = 0 returns an unchanged copy (SciPy skips the axis).
 * The input is not modified.
 *
 * The passes run in WebAssembly with two float64 lanes (wasm/gaussian.wat), band by band of rows, each
 * band copied in with its reflected context rows: the same operations per pixel as a scalar loop, so
 * the same bits, in a quarter of the time (4096² at σ = 2: 1.24–1.34 s in JavaScript, 0.23–0.39 s).
 *
 * @see SciPy `scipy.ndimage.gaussian_filter`, `correlate1d` (ni_filters.c, symmetric branch).
 */
export function gaussianFilter(image: Plane<Float32Array>, sigma: number, opts: GaussianOptions = {}): Float32Array {
  const { data, width, height } = image;
  if (!(sigma >= 0)) throw new RangeError(`gaussian sigma must be >= 0, got ${sigma}`);
  if (sigma <= 1e-15 || data.length === 0) return data.slice();
  const radius = Math.floor((opts.truncate ?? 4) * sigma + 0.5);
  const w = gaussianWeights(sigma, radius);
  const band = Math.max(1, Math.min(height, Math.floor((opts.bandPixels ?? BAND_PIXELS) / width)));
  compiled ??= new wasm.Module(Buffer.from(WASM_BASE64, 'base64'));
  const kernel = new wasm.Instance(compiled, {}).exports as GaussianKernel;
  // Memory: weights, the rows pass's column sources for the reflected ends and its float64 line, then the
  // band's input rows with context and its output rows.
  const weightsAt = 0, endsAt = 8 * w.length, lineAt = align16(endsAt + 8 * radius);
  const srcAt = align16(lineAt + 8 * (width + 2 * radius));
  const dstAt = srcAt + 4 * width * (band + 2 * radius);
  const bytes = dstAt + 4 * width * band;
  const memory = kernel.memory;
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  new Float64Array(memory.buffer, weightsAt, w.length).set(w);
  const ends = new Int32Array(memory.buffer, endsAt, 2 * radius);
  for (let i = 0; i < radius; i++) { ends[i] = reflectIndex(i - radius, width); ends[radius + i] = reflectIndex(width + i, width); }
  const src = new Float32Array(memory.buffer, srcAt, width * (band + 2 * radius));
  const dst = new Float32Array(memory.buffer, dstAt, width * band);
  const out = new Float32Array(data.length);
  for (let y0 = 0; y0 < height; y0 += band) {
    const rows = Math.min(band, height - y0);
    for (let k = 0; k < rows + 2 * radius; k++) {
      const y = reflectIndex(y0 - radius + k, height) * width;
      src.set(data.subarray(y, y + width), k * width);
    }
    kernel.columns(srcAt, dstAt, width, rows, weightsAt, radius);
    kernel.rows(dstAt, width, rows, weightsAt, radius, lineAt, endsAt);
    out.set(dst.subarray(0, rows * width), y0 * width);
  }
  return out;
}

/** The exports of wasm/gaussian.wat; pointers are byte offsets into `memory`. */
interface GaussianKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  /** Along axis 0: `rows` output rows at `dst` from `rows` + 2·`radius` input rows at `src`. */
  columns(src: number, dst: number, width: number, rows: number, weights: number, radius: number): void;
  /** Along axis 1, in place; `ends`: 2·`radius` column indices of the reflected ends. */
  rows(buf: number, width: number, rows: number, weights: number, radius: number, line: number, ends: number): void;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}
