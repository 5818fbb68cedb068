import { InvalidImageError } from '../errors';
import { binGreyLevels, claheRegionLevels, claheSourceWindow, levelsToUnit, type PixelRect } from '../predict/clahe';
import {
  channelScaling, clipRescaleToUint16, countHighKeys, countLowKeys, extremes, percentileRanks, percentileValue,
  type ChannelScaling, type NormalizedPlane, type PercentileRanks,
} from '../predict/normalize';

/**
 * Mesmer's normalisation of a plane computed block by block, giving every pixel exactly the value the
 * whole-plane path (`mesmerNormalizeLevels` + `expandNormalized`) gives it. What is global and what is
 * local (deepcell's `percentile_threshold` then scikit-image's `equalize_adapthist`):
 *
 * 1. Global, streamed: the 99.9th percentile of the non-zero pixels — an exact radix selection whose two
 *    histograms (the 65,536-bucket high-16-bit histogram of float32 keys, then the low 16 bits inside
 *    the one or two buckets holding the wanted ranks) are sums over blocks, so each block contributes
 *    its own ({@link firstPassStats}, {@link secondPassStats}) — plus the plane's min and max. From
 *    these come the clip, the rescale and the 16-bit extremes (`img_as_uint` of lo and hi: the rescale
 *    is monotone and lo, hi are attained, so they are 0 and 65535 unless the values are not finite).
 * 2. Local: each 128×128 contextual region's clipped histogram → map depends only on its own pixels
 *    (reflected at the plane's edges), on a grid anchored at the plane's origin; a pixel interpolates
 *    the four maps around it. A block reads the pixels of every region its pixels interpolate
 *    ({@link normalizationWindow}) and computes its levels ({@link blockLevels}).
 * 3. Global again: CLAHE's final min–max rescale uses the smallest and largest level of the whole
 *    plane, so each block reports its core's level extremes, and a level's float value
 *    ({@link unitTable}) is known once every block has.
 */

/** Per-channel statistics of one block's first pass. */
export interface FirstPassStats {
  /** Non-zero, non-NaN pixels. */
  nonZero: number;
  /** Whether a NaN was seen (then, as numpy, there is no clip). */
  nan: boolean;
  min: number;
  max: number;
  /** Non-empty buckets of the high-16-bit key histogram: [bucket, count] pairs, ascending. */
  high: [number, number][];
}

/** Per-channel counts of the second pass: the low 16 bits of the keys in the ranks' buckets. */
export interface SecondPassStats {
  /** [low bits, count] pairs in the first rank's bucket, and in the second's (empty when they share one). */
  first: [number, number][];
  second: [number, number][];
}

/** What the first pass says about a channel once every block is in. */
export interface ChannelSelection {
  nonZero: number;
  nan: boolean;
  min: number;
  max: number;
  /** Absent when the selection needs no second pass (no non-zero pixel, or a NaN). */
  ranks?: PercentileRanks;
}

/** The global part of one channel's normalisation, the same for every block. */
export interface ChannelNormalization {
  /** Null for a channel that normalises to zeros (constant or empty). */
  scaling: ChannelScaling | null;
  /** The 16-bit extremes of the whole plane after clip and rescale. */
  qlo: number;
  qhi: number;
}

/** A block's first pass over one channel's pixels. */
export function firstPassStats(plane: Float32Array): FirstPassStats {
  const high = new Uint32Array(65536);
  const n = countHighKeys(new Uint32Array(plane.buffer, plane.byteOffset, plane.length), high);
  const [min, max] = extremes(plane);
  return { nonZero: Math.max(0, n), nan: n < 0, min, max, high: n < 0 ? [] : sparse(high) };
}

/** The first passes of one channel's blocks, summed as they come in. */
export class FirstPassTotal {
  private readonly high = new Uint32Array(65536);
  private nonZero = 0;
  private nan = false;
  private min = Infinity;
  private max = -Infinity;

  add(p: FirstPassStats): void {
    this.nonZero += p.nonZero;
    this.nan ||= p.nan;
    if (p.min < this.min) this.min = p.min;
    if (p.max > this.max) this.max = p.max;
    for (const [b, c] of p.high) this.high[b] += c;
  }

  /** Locates the percentile's ranks once every block is in. */
  selection(percentile: number): ChannelSelection {
    const out: ChannelSelection = { nonZero: this.nonZero, nan: this.nan, min: this.min, max: this.max };
    if (!this.nan && this.nonZero > 0) out.ranks = percentileRanks(this.high, this.nonZero, percentile);
    return out;
  }
}

/** Sums the blocks' first passes of one channel and locates the percentile's ranks. */
export function reduceFirstPass(parts: readonly FirstPassStats[], percentile: number): ChannelSelection {
  const total = new FirstPassTotal();
  for (const p of parts) total.add(p);
  return total.selection(percentile);
}

/** A block's second pass over one channel: the low bits of the keys in the selection's buckets. */
export function secondPassStats(plane: Float32Array, selection: ChannelSelection): SecondPassStats {
  if (!selection.ranks) return { first: [], second: [] };
  const { first, second } = selection.ranks;
  const lowFirst = new Uint32Array(65536);
  const shared = first.bucket === second.bucket;
  const lowSecond = shared ? lowFirst : new Uint32Array(65536);
  countLowKeys(new Uint32Array(plane.buffer, plane.byteOffset, plane.length), first.bucket, lowFirst, second.bucket, lowSecond);
  return { first: sparse(lowFirst), second: shared ? [] : sparse(lowSecond) };
}

/** The second passes of one channel's blocks, summed as they come in. */
export class SecondPassTotal {
  private readonly lowFirst = new Uint32Array(65536);
  private readonly lowSecond: Uint32Array;

  constructor(private readonly selection: ChannelSelection) {
    const r = selection.ranks;
    this.lowSecond = !r || r.first.bucket === r.second.bucket ? this.lowFirst : new Uint32Array(65536);
  }

  add(p: SecondPassStats): void {
    for (const [b, c] of p.first) this.lowFirst[b] += c;
    for (const [b, c] of p.second) this.lowSecond[b] += c;
  }

  /**
   * The channel's normalisation once every block is in.
   * @throws InvalidImageError (naming `file` and `channel`) for infinite values, whose rescale has no
   *   finite 16-bit extremes to share between blocks.
   */
  normalization(file: string, channel: string): ChannelNormalization {
    const { selection } = this;
    const percentile = selection.nan ? NaN : selection.ranks ? percentileValue(selection.ranks, this.lowFirst, this.lowSecond) : undefined;
    const scaling = channelScaling(percentile, selection.min, selection.max);
    if (!scaling) return { scaling: null, qlo: 0, qhi: 0 };
    // lo and hi are values of the clipped plane and the rescale is monotone, so the plane's 16-bit
    // extremes are theirs (NaN pixels are skipped by the whole-plane path's comparisons, as here).
    const ends = new Uint16Array(2);
    const [qlo, qhi] = clipRescaleToUint16(new Float32Array([scaling.lo, Math.min(selection.max, scaling.clip)]), scaling, ends);
    if (!Number.isFinite(scaling.lo) || !Number.isFinite(scaling.range) || qlo > qhi) {
      throw new InvalidImageError(file, `channel ${channel} holds infinite values or spans more than float32 holds (${selection.min} … ${selection.max}); blockwise normalisation needs finite pixels`);
    }
    return { scaling, qlo, qhi };
  }
}

/** The channel's normalisation from its selection and the blocks' second passes (see {@link SecondPassTotal}). */
export function reduceSecondPass(selection: ChannelSelection, parts: readonly SecondPassStats[], file: string, channel: string): ChannelNormalization {
  const total = new SecondPassTotal(selection);
  for (const p of parts) total.add(p);
  return total.normalization(file, channel);
}

/**
 * The pixels a block must read to normalise `region` (its model tiles' extent) exactly: the CLAHE
 * contextual regions its pixels interpolate, reflections included, plus the region itself.
 */
export function normalizationWindow(plane: { width: number; height: number }, region: PixelRect, kernelSize = 128): PixelRect {
  const w = claheSourceWindow(plane, region, kernelSize);
  const x0 = Math.min(w.x, region.x), y0 = Math.min(w.y, region.y);
  const x1 = Math.max(w.x + w.width, region.x + region.width), y1 = Math.max(w.y + w.height, region.y + region.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** One channel's levels over a block's region, and their extremes over the part that counts (its core). */
export interface BlockLevels {
  /** CLAHE's output level (0…16383) of each pixel of the region, row-major; null for a channel of zeros. */
  levels: Uint16Array | null;
  /** Smallest and largest level inside `extremesOf` (Infinity / −Infinity when null or outside). */
  lo: number;
  hi: number;
}

/**
 * CLAHE levels of `region` of a `plane`-sized channel, from the raw pixels of `window` (which must hold
 * {@link normalizationWindow} of the region), with the channel's global normalisation. The levels'
 * extremes are taken over `extremesOf` (a rectangle inside the region: the block's core, so the cores'
 * extremes combine into the plane's). The window's pixels are not modified.
 */
export function blockLevels(raw: Float32Array, window: PixelRect, plane: { width: number; height: number }, region: PixelRect,
  norm: ChannelNormalization, extremesOf: PixelRect, kernelSize = 128): BlockLevels {
  if (!norm.scaling) return { levels: null, lo: Infinity, hi: -Infinity };
  const u16 = new Uint16Array(window.width * window.height);
  clipRescaleToUint16(raw, norm.scaling, u16);
  const bins = binGreyLevels(u16, norm.qlo, norm.qhi, 256);
  const { values } = claheRegionLevels(bins, window, plane, region, { kernelSize, clipLimit: 0.01, nbins: 256 });
  let lo = Infinity, hi = -Infinity;
  for (let y = extremesOf.y; y < extremesOf.y + extremesOf.height; y++) {
    const row = (y - region.y) * region.width - region.x;
    for (let x = extremesOf.x; x < extremesOf.x + extremesOf.width; x++) {
      const v = values[row + x];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return { levels: values, lo, hi };
}

/** The float32 of each level once the plane's level extremes are known (CLAHE's final rescale). */
export function unitTable(lo: number, hi: number): Float32Array {
  return Number.isFinite(lo) ? levelsToUnit({ lo, hi }) : new Float32Array(1);
}

/** A block's levels as the normalised plane of its region (what the tiling code reads tiles from). */
export function regionPlane(region: PixelRect, levels: Uint16Array | null, unit: Float32Array): NormalizedPlane {
  return { width: region.width, height: region.height, levels, unit };
}

function sparse(hist: Uint32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < hist.length; i++) if (hist[i] !== 0) out.push([i, hist[i]]);
  return out;
}
