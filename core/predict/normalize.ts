import { releaseBuffers } from '../parallel/release';
import { binGreyLevels, claheLevels, levelsToUnit, RINT } from './clahe';

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
  /**
   * The plane is handed over (moved to a worker thread for this): give its memory, and the 16-bit
   * temporary's, back as soon as the levels exist rather than at the thread's next garbage collection,
   * which an idle pooled thread may not run for as long as the inference takes. @default false
   */
  releaseInput?: boolean;
}

/**
 * numpy's `np.percentile(plane[plane != 0], q)` with the default 'linear' method, without copying the
 * plane: an exact radix selection on the float32 bit patterns (one pass histograms the top 16 bits of
 * an order-preserving key, a second the low 16 bits inside the one or two buckets holding the wanted
 * ranks). Returns undefined when the plane has no non-zero pixel, NaN when it holds a NaN (as numpy).
 * Two passes of a 4-megapixel plane instead of a copy and a quickselect: ~4× faster.
 */
export function nonZeroPercentile(plane: Float32Array, q: number): number | undefined {
  const bits = new Uint32Array(plane.buffer, plane.byteOffset, plane.length);
  const high = new Uint32Array(65536);
  const n = countHighKeys(bits, high);
  if (n < 0) return NaN;
  if (n === 0) return undefined;
  const ranks = percentileRanks(high, n, q);
  // The ranks' buckets, refined by their low 16 bits (one histogram when both ranks share a bucket).
  const lowFirst = new Uint32Array(65536);
  const lowSecond = ranks.second.bucket === ranks.first.bucket ? lowFirst : new Uint32Array(65536);
  countLowKeys(bits, ranks.first.bucket, lowFirst, ranks.second.bucket, lowSecond);
  return percentileValue(ranks, lowFirst, lowSecond);
}

/**
 * Where numpy's linear-interpolation percentile `q` of `n` values lies in their high-16-bit key histogram
 * (see {@link countHighKeys}): the bucket and in-bucket rank of the value below and above the virtual rank.
 * The histogram may be a sum over parts of a plane (blockwise statistics stream this way).
 */
export interface PercentileRanks {
  t: number;
  needNext: boolean;
  first: { bucket: number; rank: number };
  second: { bucket: number; rank: number };
}

export function percentileRanks(high: Uint32Array, n: number, q: number): PercentileRanks {
  const virtual = (n - 1) * (q / 100);
  const lo = Math.floor(virtual);
  const t = virtual - lo;
  const needNext = t !== 0 && lo + 1 < n;
  const first = locate(high, lo);
  const second = needNext ? locate(high, lo + 1) : first;
  return { t, needNext, first, second };
}

/** The percentile from the low-16-bit histograms of the two ranks' buckets (the same array when they share one). */
export function percentileValue(ranks: PercentileRanks, lowFirst: Uint32Array, lowSecond: Uint32Array): number {
  const { first, second, t } = ranks;
  const a = keyToFloat((first.bucket << 16 | locate(lowFirst, first.rank).bucket) >>> 0);
  if (!ranks.needNext) return a;
  const b = keyToFloat((second.bucket << 16 | locate(lowSecond, second.rank).bucket) >>> 0);
  // numpy's _lerp: from below for t < 0.5, from above otherwise (keeps monotonicity).
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// Each pass over the pixels is a function of its own, here and below: V8 optimises a long loop while it
// runs (on-stack replacement), and code after it in the same function, not yet run, then lacks type
// feedback and deoptimises — so the next loop would start over in the interpreter. Per image (cold),
// that made normalisation ~2× slower than warm.

/** Adds the top 16 bits of the keys of the non-zero values to `high`; returns their count, or −1 at a NaN. */
export function countHighKeys(bits: Uint32Array, high: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const magnitude = b & 0x7fffffff;
    if (magnitude === 0) continue; // +0 and −0
    if (magnitude > 0x7f800000) return -1;
    high[orderKey(b) >>> 16]++;
    n++;
  }
  return n;
}

/** Adds the low 16 bits of the non-zero values' keys in bucket `b1` to `low1`, in `b2` to `low2`. */
export function countLowKeys(bits: Uint32Array, b1: number, low1: Uint32Array, b2: number, low2: Uint32Array): void {
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) === 0) continue;
    const k = orderKey(b);
    const bucket = k >>> 16;
    if (bucket === b1) low1[k & 0xffff]++;
    else if (bucket === b2) low2[k & 0xffff]++;
  }
}

/** float32 bits → an unsigned key in the same order as the values (negatives reversed below positives). */
function orderKey(b: number): number {
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}

const keyScratch = new Float32Array(1);
const keyScratchBits = new Uint32Array(keyScratch.buffer);
function keyToFloat(key: number): number {
  keyScratchBits[0] = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return keyScratch[0];
}

/** The histogram bin holding the `rank`-th element (0-based) and that element's rank within the bin. */
function locate(hist: Uint32Array, rank: number): { bucket: number; rank: number } {
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    if (seen + hist[i] > rank) return { bucket: i, rank: rank - seen };
    seen += hist[i];
  }
  throw new RangeError(`rank ${rank} is past the ${seen} values counted`);
}

/** Mesmer pre-processing of one channel plane (threshold, then histogram normalisation). */
export function mesmerNormalizePlane(plane: Float32Array, width: number, height: number, opts: MesmerNormalizeOptions = {}): Float32Array {
  return expandNormalized(mesmerNormalizeLevels(plane, width, height, opts));
}

/**
 * One channel after Mesmer pre-processing, kept compact until its tiles are cut: CLAHE's output level
 * (0…16383) per pixel and the float32 each level becomes, so a tile's values are `unit[levels[i]]`.
 * `levels` is null for a channel that normalises to zeros (constant, or empty).
 */
export interface NormalizedPlane {
  width: number;
  height: number;
  levels: Uint16Array | null;
  unit: Float32Array;
}

/**
 * Mesmer pre-processing of one channel into a {@link NormalizedPlane}: deepcell's `percentile_threshold`
 * (clip at the percentile of the non-zero pixels; no clip when that is NaN, as numpy), then
 * `histogram_normalization` (a constant channel becomes zeros; else rescale to [0, 1] and CLAHE). The
 * clip, the rescale and `img_as_uint` are one pass into 16 bits, each step with its float32 rounding,
 * and no float plane is made. The input is not modified (unless handed over with `releaseInput`).
 */
export function mesmerNormalizeLevels(plane: Float32Array, width: number, height: number, opts: MesmerNormalizeOptions = {}): NormalizedPlane {
  const n = width * height;
  if (plane.length !== n) throw new RangeError(`plane has ${plane.length} values, expected ${width}×${height}`);
  const [min, max] = extremes(plane);
  const scaling = channelScaling(nonZeroPercentile(plane, opts.clipPercentile ?? 99.9), min, max);
  if (!scaling) { // constant (or empty/NaN) channel
    if (opts.releaseInput) releaseBuffers(plane.buffer);
    return { width, height, levels: null, unit: new Float32Array(1) };
  }
  const u16 = new Uint16Array(n);
  const [qlo, qhi] = clipRescaleToUint16(plane, scaling, u16);
  if (opts.releaseInput) releaseBuffers(plane.buffer);
  const levels = claheLevels(binGreyLevels(u16, qlo, qhi, 256), width, height, { kernelSize: opts.kernelSize ?? 128, clipLimit: 0.01, nbins: 256 });
  if (opts.releaseInput && levels.values.buffer !== u16.buffer) releaseBuffers(u16.buffer);
  return { width, height, levels: levels.values, unit: levelsToUnit(levels) };
}

/**
 * The global part of one channel's normalisation, from its non-zero percentile (undefined: no non-zero
 * pixel; NaN: the plane holds a NaN — then, as numpy, no clip) and its extremes (NaN skipped): the clip,
 * the rescale's `lo` and float32 `range`. Null when the channel normalises to zeros (constant, empty).
 */
export interface ChannelScaling {
  clip: number;
  lo: number;
  range: number;
}

export function channelScaling(percentile: number | undefined, min: number, max: number): ChannelScaling | null {
  const clip = percentile === undefined || Number.isNaN(percentile) ? Infinity : Math.fround(percentile);
  const lo = Math.min(min, clip);
  const hi = Math.min(max, clip);
  if (!(hi > lo)) return null;
  return { clip, lo, range: Math.fround(hi - lo) };
}

/** The smallest and largest value (NaN skipped). */
export function extremes(plane: Float32Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < plane.length; i++) {
    const v = plane[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/**
 * Clip at `clip`, `rescale_intensity(out_range=(0, 1))` in float32, then `img_as_uint` (×65535 in
 * float32, rint, clip; NaN stays NaN: skipped by the comparisons, stored as 0), into `u16`.
 * Returns the smallest and largest 16-bit value.
 */
export function clipRescaleToUint16(plane: Float32Array, scaling: ChannelScaling, u16: Uint16Array): [number, number] {
  const { clip, lo, range } = scaling;
  const rint = RINT; // a local: an imported binding may be a getter (tsx, ts-jest)
  let qlo = 65535;
  let qhi = 0;
  for (let i = 0; i < plane.length; i++) {
    const t = plane[i] > clip ? clip : plane[i];
    let v = (Math.fround(Math.fround(Math.fround(t - lo) / range) * 65535) + rint) - rint;
    v = v < 0 ? 0 : v > 65535 ? 65535 : v;
    u16[i] = v;
    if (v < qlo) qlo = v;
    if (v > qhi) qhi = v;
  }
  return [qlo, qhi];
}

/** The float32 plane of a {@link NormalizedPlane}. */
export function expandNormalized(p: NormalizedPlane): Float32Array {
  const out = new Float32Array(p.width * p.height);
  const { levels, unit } = p;
  if (levels) for (let i = 0; i < out.length; i++) out[i] = unit[levels[i]];
  return out;
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
