/**
 * Contrast Limited Adaptive Histogram Equalization, reproducing scikit-image's
 * `skimage.exposure.equalize_adapthist` (0.19–0.26) for 2-D float images step by step, including its
 * integer quantisation, so Mesmer's pre-processing gives the numbers the model was trained on.
 *
 * Steps (as scikit-image does them): `img_as_uint` (×65535, round, clip), rescale to 0..16383 and
 * round, reflect-pad by half a kernel at the start and up to a whole kernel plus half at the end, bin
 * to `nbins` grey levels, one clipped histogram → cumulative map per kernel-sized contextual region,
 * bilinear interpolation of the four surrounding maps (float32 sum, truncated to uint16), then a
 * min–max rescale to [0, 1]. The steps after `img_as_uint` are separate functions ({@link binGreyLevels},
 * {@link claheLevels}, {@link levelsToUnit}) so Mesmer's pre-processing (`normalize.ts`) can fuse its own
 * rescale with `img_as_uint` and keep 16-bit levels until tiles are cut.
 *
 * References: K. Zuiderveld, "Contrast Limited Adaptive Histogram Equalization", Graphics Gems IV,
 * Academic Press 1994, pp. 474–485; scikit-image `skimage/exposure/_adapthist.py`.
 */

/** Grey levels scikit-image quantises to before binning (`NR_OF_GRAY`). */
const GREY_LEVELS = 1 << 14;

export interface ClaheOptions {
  /** Contextual-region size in pixels (rows = columns). @default 128 (Mesmer) */
  kernelSize?: number;
  /** Normalised clip limit in (0, 1); 0 disables clipping. @default 0.01 */
  clipLimit?: number;
  /** Histogram bins. @default 256 */
  nbins?: number;
}

/**
 * CLAHE's output before its final rescale: the interpolated level (0…16383) of every pixel, with the
 * smallest and largest. {@link levelsToUnit} turns a level into the float32 scikit-image returns.
 */
export interface ClaheLevels {
  values: Uint16Array;
  lo: number;
  hi: number;
}

/**
 * CLAHE from binned grey levels (see {@link binGreyLevels}) to output levels. Writes the levels over
 * `bins` (each pixel's bin is read before its level is written) and returns them in it.
 */
export function claheLevels(bins: Uint16Array, width: number, height: number, opts: ClaheOptions = {}): ClaheLevels {
  const k = opts.kernelSize ?? 128;
  const clipLimit = opts.clipLimit ?? 0.01;
  const nbins = opts.nbins ?? 256;
  if (bins.length !== width * height) throw new RangeError(`plane has ${bins.length} values, expected ${width}×${height}`);

  // Padded geometry (scikit-image pads k//2 before and (k - s%k)%k + ceil(k/2) after).
  const padStart = k >> 1;
  const paddedH = height + padStart + ((k - (height % k)) % k) + Math.ceil(k / 2);
  const paddedW = width + padStart + ((k - (width % k)) % k) + Math.ceil(k / 2);
  const rowSrc = reflectIndices(paddedH, padStart, height);
  const colSrc = reflectIndices(paddedW, padStart, width);

  const histRows = Math.trunc(paddedH / k) - 1;
  const histCols = Math.trunc(paddedW / k) - 1;
  const clim = clipLimit > 0 ? Math.max(1, Math.trunc(clipLimit * k * k)) : k * k;

  // Maps of the contextual regions, edge-padded by one region on every side (mapRows × mapCols × nbins).
  // (The two pixel passes are functions of their own: see normalize.ts on V8's on-stack replacement.)
  const mapRows = histRows + 2;
  const mapCols = histCols + 2;
  const maps = new Int32Array(mapRows * mapCols * nbins);
  regionMaps(bins, width, rowSrc, colSrc, { k, padStart, histRows, histCols, mapCols, nbins, clim }, maps);
  edgePadMaps(maps, mapRows, mapCols, nbins);
  const [lo, hi] = interpolateLevels(bins, width, height, { k, padStart, mapCols, nbins }, maps);
  return { values: bins, lo, hi };
}

/** One clipped histogram → cumulative map per contextual region, into the inner cells of `maps`. */
function regionMaps(bins: Uint16Array, width: number, rowSrc: Int32Array, colSrc: Int32Array,
  g: { k: number; padStart: number; histRows: number; histCols: number; mapCols: number; nbins: number; clim: number }, maps: Int32Array): void {
  const { k, padStart, histRows, histCols, mapCols, nbins, clim } = g;
  const hist = new Int32Array(nbins);
  for (let hr = 0; hr < histRows; hr++) {
    for (let hc = 0; hc < histCols; hc++) {
      hist.fill(0);
      const r0 = padStart + hr * k;
      const c0 = padStart + hc * k;
      for (let r = r0; r < r0 + k; r++) {
        const rowBase = rowSrc[r] * width;
        for (let c = c0; c < c0 + k; c++) hist[bins[rowBase + colSrc[c]]]++;
      }
      clipHistogram(hist, clim);
      writeMap(hist, k * k, maps, ((hr + 1) * mapCols + (hc + 1)) * nbins);
    }
  }
}

/**
 * Bilinear interpolation between the four maps around each pixel, in scikit-image's block layout:
 * padded pixel P lies in block floor(P/k) at fraction (P mod k)/k; block b blends maps b and b+1.
 * Writes each pixel's level over its bin; returns the smallest and largest level.
 */
function interpolateLevels(bins: Uint16Array, width: number, height: number, g: { k: number; padStart: number; mapCols: number; nbins: number }, maps: Int32Array): [number, number] {
  const { k, padStart, mapCols, nbins } = g;
  const colBlock = new Int32Array(width);
  const colFrac = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    const p = x + padStart;
    colBlock[x] = Math.trunc(p / k);
    colFrac[x] = (p % k) / k;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < height; y++) {
    const p = y + padStart;
    const br = Math.trunc(p / k);
    const fy = (p % k) / k;
    const gy = 1 - fy;
    const top = br * mapCols;
    const bottom = (br + 1) * mapCols;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const b = bins[i];
      const bc = colBlock[x];
      const fx = colFrac[x];
      const gx = 1 - fx;
      // Same order and float32 rounding as scikit-image's accumulation over np.ndindex(2, 2).
      let acc = Math.fround(maps[(top + bc) * nbins + b] * (gx * gy));
      acc = Math.fround(acc + Math.fround(maps[(top + bc + 1) * nbins + b] * (fx * gy)));
      acc = Math.fround(acc + Math.fround(maps[(bottom + bc) * nbins + b] * (gx * fy)));
      acc = Math.fround(acc + Math.fround(maps[(bottom + bc + 1) * nbins + b] * (fx * fy)));
      const v = Math.trunc(acc); // astype(uint16); at most 16383, as every map is
      bins[i] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return [lo, hi];
}

/**
 * The float32 value of each 16-bit level after CLAHE's final `rescale_intensity` to [0, 1] (a constant
 * image becomes its level clamped to [0, 1], as scikit-image does).
 */
export function levelsToUnit(levels: { lo: number; hi: number }): Float32Array {
  const { lo, hi } = levels;
  const unit = new Float32Array(65536);
  if (lo === hi) return unit.fill(Math.min(Math.max(lo, 0), 1));
  const range = Math.fround(hi - lo);
  for (let v = 0; v < unit.length; v++) unit[v] = Math.fround(Math.fround(v - lo) / range);
  return unit;
}

/** Adding and subtracting 1.5·2^52 rounds a double to an integer, halves to even (numpy's rint), for |v| < 2^51. */
export const RINT = 6755399441055744;

/**
 * scikit-image's next steps on the 16-bit image: rescale `lo…hi` to 0..16383, round, integer-divide
 * into `nbins` bins — in place. The result depends only on the 16-bit value, so it is a lookup table
 * (65,536 entries) rather than per-pixel arithmetic.
 */
export function binGreyLevels(u16: Uint16Array, lo: number, hi: number, nbins: number): Uint16Array {
  const binSize = 1 + Math.trunc(GREY_LEVELS / nbins);
  const top = GREY_LEVELS - 1;
  if (lo === hi) {
    const g = Math.min(Math.max(lo, 0), top);
    return u16.fill(Math.trunc(roundHalfEven(g) / binSize));
  }
  const span = hi - lo;
  const lut = new Uint16Array(65536);
  for (let u = lo; u <= hi; u++) lut[u] = Math.trunc(roundHalfEven(((u - lo) / span) * top) / binSize);
  for (let i = 0; i < u16.length; i++) u16[i] = lut[u16[i]];
  return u16;
}

/** numpy's rint/round: halves go to the even neighbour. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Source index for each padded index under numpy's 'reflect' padding (mirror without repeating the edge). */
export function reflectIndices(paddedLength: number, before: number, length: number): Int32Array {
  const out = new Int32Array(paddedLength);
  const period = 2 * (length - 1);
  for (let i = 0; i < paddedLength; i++) {
    if (length === 1) {
      out[i] = 0;
      continue;
    }
    let j = (i - before) % period;
    if (j < 0) j += period;
    out[i] = j < length ? j : period - j;
  }
  return out;
}

/**
 * scikit-image's `clip_histogram`: clip bins at `limit`, hand the excess out evenly, then spread what is
 * left one count at a time with a stride, exactly as scikit-image does (so maps agree bit for bit).
 */
export function clipHistogram(hist: Int32Array, limit: number): void {
  const size = hist.length;
  let nExcess = 0;
  for (let i = 0; i < size; i++) {
    if (hist[i] > limit) {
      nExcess += hist[i] - limit;
      hist[i] = limit;
    }
  }
  const binIncr = Math.trunc(nExcess / size);
  const upper = limit - binIncr;
  for (let i = 0; i < size; i++) {
    if (hist[i] < upper) {
      nExcess -= binIncr;
      hist[i] += binIncr;
    }
  }
  // A second pass, as in scikit-image: bins lifted to [upper, limit) above are topped up too.
  for (let i = 0; i < size; i++) {
    if (hist[i] >= upper && hist[i] < limit) {
      nExcess += hist[i] - limit;
      hist[i] = limit;
    }
  }
  const under = new Uint8Array(size);
  while (nExcess > 0) {
    const previous = nExcess;
    for (let index = 0; index < size; index++) {
      let underCount = 0;
      for (let i = 0; i < size; i++) {
        under[i] = hist[i] < limit ? 1 : 0;
        underCount += under[i];
      }
      const step = Math.max(1, Math.trunc(underCount / nExcess));
      let added = 0;
      for (let i = index; i < size; i += step) {
        if (under[i]) {
          hist[i]++;
          added++;
        }
      }
      nExcess -= added;
      if (nExcess <= 0) break;
    }
    if (previous === nExcess) break;
  }
}

/** Cumulative histogram scaled to 0..16383 and truncated to int (scikit-image's `map_histogram`). */
function writeMap(hist: Int32Array, pixels: number, maps: Int32Array, offset: number): void {
  const top = GREY_LEVELS - 1;
  const scale = top / pixels;
  let cum = 0;
  for (let b = 0; b < hist.length; b++) {
    cum += hist[b];
    const v = cum * scale;
    maps[offset + b] = Math.trunc(v > top ? top : v);
  }
}

/** Fills the one-region border of the map grid with copies of the nearest inner map ('edge' padding). */
function edgePadMaps(maps: Int32Array, rows: number, cols: number, nbins: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (r > 0 && r < rows - 1 && c > 0 && c < cols - 1) continue;
      const sr = Math.min(Math.max(r, 1), rows - 2);
      const sc = Math.min(Math.max(c, 1), cols - 2);
      maps.copyWithin((r * cols + c) * nbins, (sr * cols + sc) * nbins, (sr * cols + sc + 1) * nbins);
    }
  }
}
