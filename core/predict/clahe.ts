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

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;

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

/** A rectangle of a plane, in the plane's pixel coordinates. */
export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * CLAHE from binned grey levels (see {@link binGreyLevels}) to output levels. Writes the levels over
 * `bins` (each pixel's bin is read before its level is written) and returns them in it.
 */
export function claheLevels(bins: Uint16Array, width: number, height: number, opts: ClaheOptions = {}): ClaheLevels {
  if (bins.length !== width * height) throw new RangeError(`plane has ${bins.length} values, expected ${width}×${height}`);
  const whole = { x: 0, y: 0, width, height };
  return claheRegionLevels(bins, whole, { width, height }, whole, opts, bins);
}

/**
 * scikit-image's geometry for a plane: reflect padding by k/2 before and up to k + k/2 after, and
 * contextual regions of k×k padded pixels from the padded origin + k/2 — so region (r, c) holds plane
 * rows r·k … r·k+k−1 (reflected past the end), anchored at the plane's origin whatever the block.
 */
interface ClaheGeometry {
  k: number;
  padStart: number;
  /** Plane row (column) of each padded row (column). */
  rowSrc: Int32Array;
  colSrc: Int32Array;
  histRows: number;
  histCols: number;
}

function claheGeometry(width: number, height: number, k: number): ClaheGeometry {
  const padStart = k >> 1;
  const paddedH = height + padStart + ((k - (height % k)) % k) + Math.ceil(k / 2);
  const paddedW = width + padStart + ((k - (width % k)) % k) + Math.ceil(k / 2);
  return {
    k, padStart,
    rowSrc: reflectIndices(paddedH, padStart, height),
    colSrc: reflectIndices(paddedW, padStart, width),
    histRows: Math.trunc(paddedH / k) - 1,
    histCols: Math.trunc(paddedW / k) - 1,
  };
}

/** The contextual regions [lo, hi] (inclusive) whose maps the pixels `from … to−1` of one axis interpolate. */
function regionSpan(from: number, to: number, padStart: number, k: number, regions: number): [number, number] {
  const clamp = (r: number) => Math.min(Math.max(r, 0), regions - 1);
  return [clamp(Math.trunc((from + padStart) / k) - 1), clamp(Math.trunc((to - 1 + padStart) / k))];
}

/**
 * The pixels of the plane that CLAHE reads to give the levels of `region`: every pixel of the contextual
 * regions around it (their reflections included). A block holding this window's bins gets, through
 * {@link claheRegionLevels}, exactly the levels a whole-plane run gives its pixels.
 */
export function claheSourceWindow(plane: { width: number; height: number }, region: PixelRect, kernelSize = 128): PixelRect {
  const g = claheGeometry(plane.width, plane.height, kernelSize);
  const axis = (from: number, to: number, src: Int32Array, regions: number): [number, number] => {
    const [lo, hi] = regionSpan(from, to, g.padStart, g.k, regions);
    let min = Infinity, max = -Infinity;
    for (let p = g.padStart + lo * g.k; p < g.padStart + (hi + 1) * g.k; p++) {
      if (src[p] < min) min = src[p];
      if (src[p] > max) max = src[p];
    }
    return [min, max + 1];
  };
  const [y0, y1] = axis(region.y, region.y + region.height, g.rowSrc, g.histRows);
  const [x0, x1] = axis(region.x, region.x + region.width, g.colSrc, g.histCols);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * CLAHE levels of the pixels of `region` of a `plane.width × plane.height` plane, computed from the
 * binned grey levels of `window` (a part of the plane containing {@link claheSourceWindow} of the
 * region): bit for bit what {@link claheLevels} gives those pixels on the whole plane, because a
 * contextual region's map depends only on its own pixels and the grid is anchored at the plane's origin.
 * Writes into `out` (region-sized; may be `bins` itself when window and region are the same rectangle).
 */
export function claheRegionLevels(bins: Uint16Array, window: PixelRect, plane: { width: number; height: number }, region: PixelRect,
  opts: ClaheOptions = {}, out: Uint16Array = new Uint16Array(region.width * region.height)): ClaheLevels {
  const k = opts.kernelSize ?? 128;
  const clipLimit = opts.clipLimit ?? 0.01;
  const nbins = opts.nbins ?? 256;
  if (bins.length !== window.width * window.height) throw new RangeError(`window has ${bins.length} values, expected ${window.width}×${window.height}`);
  if (out.length !== region.width * region.height) throw new RangeError(`output has ${out.length} values, expected ${region.width}×${region.height}`);
  const g = claheGeometry(plane.width, plane.height, k);
  const need = claheSourceWindow(plane, region, k);
  if (need.x < window.x || need.y < window.y || need.x + need.width > window.x + window.width || need.y + need.height > window.y + window.height) {
    throw new RangeError(`CLAHE window ${rectText(window)} does not hold the pixels ${rectText(need)} that region ${rectText(region)} needs`);
  }
  const rows = regionSpan(region.y, region.y + region.height, g.padStart, k, g.histRows);
  const cols = regionSpan(region.x, region.x + region.width, g.padStart, k, g.histCols);
  const clim = clipLimit > 0 ? Math.max(1, Math.trunc(clipLimit * k * k)) : k * k;
  const maps = new Int32Array((rows[1] - rows[0] + 1) * (cols[1] - cols[0] + 1) * nbins);
  // (The two pixel passes are functions of their own: see normalize.ts on V8's on-stack replacement.)
  regionMaps(bins, window, g, rows, cols, { nbins, clim }, maps);
  const [lo, hi] = interpolateLevels(bins, window, region, g, rows, cols, nbins, maps, out);
  return { values: out, lo, hi };
}

function rectText(r: PixelRect): string {
  return `x=${r.x} y=${r.y} ${r.width}×${r.height}`;
}

/** One clipped histogram → cumulative map per contextual region in `rows × cols`, into `maps` (row-major). */
function regionMaps(bins: Uint16Array, window: PixelRect, g: ClaheGeometry, rows: [number, number], cols: [number, number],
  o: { nbins: number; clim: number }, maps: Int32Array): void {
  const { k, padStart, rowSrc, colSrc } = g;
  const { nbins, clim } = o;
  const nc = cols[1] - cols[0] + 1;
  const hist = new Int32Array(nbins);
  for (let hr = rows[0]; hr <= rows[1]; hr++) {
    for (let hc = cols[0]; hc <= cols[1]; hc++) {
      hist.fill(0);
      const r0 = padStart + hr * k;
      const c0 = padStart + hc * k;
      for (let r = r0; r < r0 + k; r++) {
        const rowBase = (rowSrc[r] - window.y) * window.width - window.x;
        for (let c = c0; c < c0 + k; c++) hist[bins[rowBase + colSrc[c]]]++;
      }
      clipHistogram(hist, clim);
      writeMap(hist, k * k, maps, ((hr - rows[0]) * nc + (hc - cols[0])) * nbins);
    }
  }
}

/**
 * Bilinear interpolation between the four maps around each pixel, in scikit-image's block layout:
 * padded pixel P lies in block floor(P/k) at fraction (P mod k)/k; block b blends regions b−1 and b,
 * clamped to the grid (scikit-image's 'edge' padding of the maps). Writes each pixel's level into
 * `out`; returns the smallest and largest level.
 */
function interpolateLevels(bins: Uint16Array, window: PixelRect, region: PixelRect, g: ClaheGeometry,
  rows: [number, number], cols: [number, number], nbins: number, maps: Int32Array, out: Uint16Array): [number, number] {
  const { k, padStart } = g;
  const nc = cols[1] - cols[0] + 1;
  const clampRow = (r: number) => Math.min(Math.max(r, 0), g.histRows - 1) - rows[0];
  const clampCol = (c: number) => Math.min(Math.max(c, 0), g.histCols - 1) - cols[0];
  const { width, height } = region;
  const left = new Int32Array(width);
  const right = new Int32Array(width);
  const colFrac = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    const p = region.x + x + padStart;
    const bc = Math.trunc(p / k);
    left[x] = clampCol(bc - 1) * nbins;
    right[x] = clampCol(bc) * nbins;
    colFrac[x] = (p % k) / k;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < height; y++) {
    const p = region.y + y + padStart;
    const br = Math.trunc(p / k);
    const fy = (p % k) / k;
    const gy = 1 - fy;
    const top = clampRow(br - 1) * nc * nbins;
    const bottom = clampRow(br) * nc * nbins;
    const src = (region.y + y - window.y) * window.width + (region.x - window.x);
    const dst = y * width;
    for (let x = 0; x < width; x++) {
      const b = bins[src + x];
      const fx = colFrac[x];
      const gx = 1 - fx;
      // Same order and float32 rounding as scikit-image's accumulation over np.ndindex(2, 2).
      let acc = math.fround(maps[top + left[x] + b] * (gx * gy));
      acc = math.fround(acc + math.fround(maps[top + right[x] + b] * (fx * gy)));
      acc = math.fround(acc + math.fround(maps[bottom + left[x] + b] * (gx * fy)));
      acc = math.fround(acc + math.fround(maps[bottom + right[x] + b] * (fx * fy)));
      const v = math.trunc(acc); // astype(uint16); at most 16383, as every map is
      out[dst + x] = v;
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
  const binIncr = math.trunc(nExcess / size);
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
      const step = math.max(1, math.trunc(underCount / nExcess));
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
