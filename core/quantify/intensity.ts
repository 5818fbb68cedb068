import type { TypedArray } from '../formats/ndarray';
import { gatherCell, gatherNucleus, type CompartmentPixels } from './compartments';

export { indexCompartments, type CompartmentPixels } from './compartments';

/** Cell compartments, in QuPath's `ObjectMeasurements.Compartments` terms. */
export type Compartment = 'nucleus' | 'cytoplasm' | 'membrane' | 'cell';
/** Intensity statistics, in QuPath's `ObjectMeasurements.Measurements` terms (Std.Dev. is the sample one, n − 1). */
export type Stat = 'mean' | 'median' | 'min' | 'max' | 'std';
export const ALL_COMPARTMENTS: readonly Compartment[] = ['nucleus', 'cytoplasm', 'membrane', 'cell'];
export const ALL_STATS: readonly Stat[] = ['mean', 'median', 'min', 'max', 'std'];

/** Output columns for one compartment of one channel; a column is absent when that statistic was not asked for. */
export type StatColumns = Partial<Record<Stat, Float32Array>>;

/**
 * Measures one channel for every cell and compartment. Values are gathered into a scratch buffer per
 * cell; the median is exact (Floyd–Rivest selection, averaging the two middle values for an even count, as
 * Apache Commons' `Percentile(50)` does in QuPath); the standard deviation is the sample one (n − 1),
 * 0 for a single pixel. Empty compartments give NaN. Results are stored as float32, as QuPath stores
 * measurements.
 */
export function measureChannel(
  pixels: CompartmentPixels, channel: TypedArray, out: Partial<Record<Compartment, StatColumns>>, scratch?: Float64Array,
): void {
  const buf = scratch && scratch.length >= pixels.maxLength ? scratch : new Float64Array(Math.max(1, pixels.maxLength));
  const nCells = pixels.cellCount.length;
  const data = channel as ArrayLike<number>;
  // Channels of at most 16-bit integers (nearly every multiplexed image) take the median from a
  // two-level histogram that leaves the values in place; others (float, 32-bit) by selection, which
  // reorders them. Both give the exact order statistic.
  const offset = smallIntegerOffset(channel);
  const summary: Summarise = offset === undefined ? summarise : (b, n, o, row) => summariseSmallIntegers(b, n, o, row, offset);
  const copy = offset === undefined ? new Float64Array(buf.length) : buf;
  for (let c = 0; c < nCells; c++) {
    if (out.cytoplasm || out.cell) {
      // One gather serves both: the cell's list holds its cytoplasm first, then its nucleus.
      const n = gatherCell(pixels, c, data, buf, !out.cell);
      if (out.cytoplasm) {
        const cyto = pixels.cytoCount[c];
        if (copy !== buf) copy.set(buf.subarray(0, cyto)); // the cell still needs the whole list in order
        summary(copy, cyto, out.cytoplasm, c);
      }
      if (out.cell) summary(buf, n, out.cell, c);
    }
    if (out.nucleus) summary(buf, gatherNucleus(pixels, c, data, buf), out.nucleus, c);
    if (out.membrane) {
      const from = pixels.membraneStart[c], to = pixels.membraneStart[c + 1];
      gather(data, pixels.membranePixels, from, to, buf);
      summary(buf, to - from, out.membrane, c);
    }
  }
}

type Summarise = (buf: Float64Array, n: number, out: StatColumns, row: number) => void;

/** What maps a channel's values onto 0..65535 (added to each value), or undefined when they do not all fit. */
function smallIntegerOffset(channel: TypedArray): number | undefined {
  if (channel instanceof Uint8Array || channel instanceof Uint8ClampedArray || channel instanceof Uint16Array) return 0;
  if (channel instanceof Int8Array) return 128;
  if (channel instanceof Int16Array) return 32768;
  return undefined;
}

function gather(data: ArrayLike<number>, index: Uint32Array, from: number, to: number, buf: Float64Array): void {
  for (let p = from, j = 0; p < to; p++, j++) buf[j] = data[index[p]];
}

/** Statistics of buf[0..n) (reorders it for the median). */
function summarise(buf: Float64Array, n: number, out: StatColumns, row: number): void {
  if (n === 0) {
    for (const k in out) out[k as Stat]![row] = NaN;
    return;
  }
  let sum = 0, min = Infinity, max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = buf[j];
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  if (out.mean) out.mean[row] = mean;
  if (out.min) out.min[row] = min;
  if (out.max) out.max[row] = max;
  if (out.std) {
    // Two-pass (centred) sum of squares: exact enough for float images, unlike sum(v²) − n·mean².
    let ss = 0;
    for (let j = 0; j < n; j++) { const d = buf[j] - mean; ss += d * d; }
    out.std[row] = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  }
  if (out.median) out.median[row] = median(buf, n);
}

/**
 * Counters of the two-level histogram median, all zero between calls: each call clears what it counted
 * (the high-byte counters from its lowest value's to its highest's, and the 256 low-byte ones).
 */
const HIGH = new Int32Array(256);
const LOW = new Int32Array(256);
/** What {@link medianOfSmallIntegers} leaves besides the median: sum, min, max and the centred sum of squares. */
const MOMENTS = new Float64Array(4);

/**
 * {@link summarise} for values that plus `offset` are integers in 0..65535, in two passes that leave
 * the buffer as it is (see {@link medianOfSmallIntegers}). The same arithmetic in the same order as
 * `summarise`, so the same numbers bit for bit.
 */
function summariseSmallIntegers(buf: Float64Array, n: number, out: StatColumns, row: number, offset: number): void {
  if (n === 0) {
    for (const k in out) out[k as Stat]![row] = NaN;
    return;
  }
  const median = medianOfSmallIntegers(buf, n, offset);
  if (out.mean) out.mean[row] = MOMENTS[0] / n;
  if (out.min) out.min[row] = MOMENTS[1];
  if (out.max) out.max[row] = MOMENTS[2];
  if (out.std) out.std[row] = n > 1 ? Math.sqrt(MOMENTS[3] / (n - 1)) : 0;
  if (out.median) out.median[row] = median;
}

/**
 * Exact median of buf[0..n) (n ≥ 1) when every value plus `offset` is an integer in 0..65535, without
 * reordering the buffer: the first pass takes sum, min, max and a histogram of the high bytes, which
 * finds the 256-value range holding the middle rank; the second the centred sum of squares and a
 * histogram of the values in that range (and, for an even count, the next value up). Two linear passes
 * instead of selection's data-dependent branches; the same result as {@link median}. Leaves sum, min,
 * max and the sum of squares in MOMENTS.
 *
 * Hand-written for speed (bench/quantify.ts: these two passes over every compartment's pixels of every
 * channel were the largest part of quantify's time): the second pass tests one range instead of each
 * value's bin against the middle one (a branch that mispredicted on half the values), and the next value
 * up outside that range, rarely needed, is found by a third pass only when it is.
 */
export function medianOfSmallIntegers(buf: Float64Array, n: number, offset: number): number {
  const high = HIGH, low = LOW;
  let sum = 0, min = Infinity, max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = buf[j];
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    high[(v + offset) >>> 8]++;
  }
  const mean = sum / n;
  const k = (n - 1) >> 1; // rank of the lower middle
  const first = (min + offset) >>> 8, last = (max + offset) >>> 8;
  let bin = first, below = 0;
  while (below + high[bin] <= k) below += high[bin++];
  high.fill(0, first, last + 1);
  const from = (bin << 8) - offset, to = from + 256; // the middle's range, in the buffer's values
  let ss = 0;
  for (let j = 0; j < n; j++) {
    const v = buf[j];
    const d = v - mean;
    ss += d * d;
    if (v >= from && v < to) low[v - from]++;
  }
  MOMENTS[0] = sum;
  MOMENTS[1] = min;
  MOMENTS[2] = max;
  MOMENTS[3] = ss;
  let l = 0, seen = below;
  while (seen + low[l] <= k) seen += low[l++];
  const middle = from + l;
  let result = middle;
  if (!(n & 1)) {
    // The upper middle (rank k + 1): the same value, the next one in the range, or the least above it.
    let upper = middle;
    if (seen + low[l] <= k + 1) {
      let next = l + 1;
      while (next < 256 && low[next] === 0) next++;
      if (next < 256) upper = from + next;
      else {
        upper = Infinity;
        for (let j = 0; j < n; j++) if (buf[j] >= to && buf[j] < upper) upper = buf[j];
      }
    }
    result = (middle + upper) / 2;
  }
  low.fill(0);
  return result;
}

/** Exact median of buf[0..n) (reorders the buffer). */
export function median(buf: Float64Array, n: number): number {
  const k = (n - 1) >> 1;
  select(buf, 0, n - 1, k);
  if (n & 1) return buf[k];
  let upper = Infinity;
  for (let j = k + 1; j < n; j++) if (buf[j] < upper) upper = buf[j];
  return (buf[k] + upper) / 2;
}

/**
 * Floyd and Rivest's selection (R. W. Floyd, R. L. Rivest, "Algorithm 489: SELECT", CACM 18(3), 1975):
 * afterwards a[k] holds the k-th smallest of a[lo..hi], nothing before it is larger and nothing after it
 * smaller. Ranges past 600 first select within a sample around the expected position. About 1.3× faster
 * than median-of-three quickselect on cell-sized ranges.
 */
function select(a: Float64Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    if (hi - lo > 600) {
      const n = hi - lo + 1, i = k - lo + 1, z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (i - n / 2 < 0 ? -1 : 1);
      select(a, Math.max(lo, Math.floor(k - (i * s) / n + sd)), Math.min(hi, Math.floor(k + ((n - i) * s) / n + sd)), k);
    }
    const t = a[k];
    let i = lo, j = hi;
    swap(a, lo, k);
    if (a[hi] > t) swap(a, hi, lo);
    while (i < j) {
      swap(a, i, j);
      i++;
      j--;
      while (a[i] < t) i++;
      while (a[j] > t) j--;
    }
    if (a[lo] === t) swap(a, lo, j);
    else {
      j++;
      swap(a, j, hi);
    }
    if (j <= k) lo = j + 1;
    if (k <= j) hi = j - 1;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]; a[i] = a[j]; a[j] = t;
}
