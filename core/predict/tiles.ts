import { reflectIndices } from './clahe';
import type { NormalizedPlane } from './normalize';

/**
 * Overlapping tiles and their seamless reassembly, as deepcell-toolbox's `tile_image(model_input_shape,
 * stride_ratio=0.75, pad_mode='constant')` and `untile_image(..., power=2)` do it, plus Mesmer's
 * handling of images smaller than a tile (reflect padding up to the tile size, `Application._tile_input`).
 *
 * Geometry per axis (size s, tile t): stride = min(t, ceil(ratio·t / 2)·2); n = max(1, ceil((s − t)/stride + 1))
 * tiles; the image is zero-padded by the overshoot t + stride·(n−1) − s, ceil half before and floor half
 * after, so every tile lies on a regular grid. Reassembly multiplies each tile by a separable window that
 * is 1 in its interior and a squared-spline ramp (the two halves of a power-2 spline window of width
 * 2·overlap, scaled to peak 1) over each overlap with a neighbour, then sums: two ramps over one overlap
 * add up to ≈ 1, so no seams. When a tile spans the whole (padded) image on an axis, or tiles are
 * smaller than 32 px, or the stride ratio is below 0.5, deepcell skips the window and later tiles
 * simply overwrite earlier ones; so does this code.
 *
 * Deviation (documented): Mesmer pads both axes by |s − t| when either axis is smaller than a tile,
 * which for a long, thin image yields a non-tile-sized model input; here only the short axes are padded
 * to the tile size and the image is then tiled normally.
 *
 * References: deepcell-toolbox `deepcell_toolbox/utils.py` (`tile_image`, `untile_image`, `spline_window`,
 * `window_2D`); deepcell-tf `deepcell/applications/application.py` (`_tile_input`, `_untile_output`).
 */

/** Tiling along one axis. */
export interface AxisTiling {
  /** Image length on this axis. */
  size: number;
  /** Reflect padding applied first when size < tile (Mesmer's small-image rule): before, after. */
  reflectPad: [number, number];
  /** Zero padding applied to the reflect-padded axis so the tiles fit the grid: before, after. */
  zeroPad: [number, number];
  /** Length after both paddings = tile + stride·(count − 1). */
  paddedSize: number;
  stride: number;
  count: number;
  /** Start of each tile in padded coordinates. */
  starts: number[];
  /** Overlap with the previous and the next tile, per tile. */
  overlaps: Array<[number, number]>;
}

/** The full tiling of an H×W image. */
export interface TileGrid {
  width: number;
  height: number;
  tileSize: number;
  strideRatio: number;
  rows: AxisTiling;
  cols: AxisTiling;
  /** Tiles in deepcell's order: row-major over (row index, column index). */
  count: number;
  /** Whether tiles are blended with spline windows (true) or written in order, later over earlier. */
  blend: boolean;
  /** 1-D windows per row tile and per column tile (length tileSize), for blended grids. */
  rowWindows: Float32Array[];
  colWindows: Float32Array[];
  /** Source row/column (in the unpadded image) of each padded row/column, or −1 for zero padding. */
  rowSource: Int32Array;
  colSource: Int32Array;
}

const MIN_BLEND_TILE = 32;
const MIN_BLEND_STRIDE_RATIO = 0.5;

function axisTiling(size: number, tile: number, strideRatio: number): AxisTiling {
  const reflectPad: [number, number] = [0, 0];
  let s = size;
  if (size < tile) {
    const diff = tile - size;
    reflectPad[0] = diff >> 1;
    reflectPad[1] = diff - (diff >> 1);
    s = tile;
  }
  const stride = Math.min(Math.ceil((strideRatio * tile) / 2) * 2, tile);
  const count = Math.max(Math.ceil((s - tile) / stride + 1), 1);
  const overshoot = tile + stride * (count - 1) - s;
  const zeroPad: [number, number] = [Math.ceil(overshoot / 2), Math.floor(overshoot / 2)];
  const paddedSize = s + overshoot;
  const starts: number[] = [];
  const overlaps: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    starts.push(i === count - 1 ? paddedSize - tile : i * stride);
  }
  for (let i = 0; i < count; i++) {
    const before = i === 0 ? 0 : starts[i - 1] + tile - starts[i];
    const after = i === count - 1 ? 0 : starts[i] + tile - starts[i + 1];
    overlaps.push([before, after]);
  }
  return { size, reflectPad, zeroPad, paddedSize, stride, count, starts, overlaps };
}

/** Plans the tiles of an H×W image for a square model tile (Mesmer: 256, stride ratio 0.75). */
export function planTiles(width: number, height: number, tileSize: number, strideRatio = 0.75): TileGrid {
  if (!(width > 0 && height > 0)) throw new RangeError(`image must be non-empty, got ${width}×${height}`);
  const rows = axisTiling(height, tileSize, strideRatio);
  const cols = axisTiling(width, tileSize, strideRatio);
  const blend = tileSize >= MIN_BLEND_TILE && tileSize < rows.paddedSize && tileSize < cols.paddedSize
    && strideRatio >= MIN_BLEND_STRIDE_RATIO;
  return {
    width, height, tileSize, strideRatio, rows, cols, count: rows.count * cols.count, blend,
    rowWindows: rows.overlaps.map(([a, b]) => splineWindow(tileSize, a, b)),
    colWindows: cols.overlaps.map(([a, b]) => splineWindow(tileSize, a, b)),
    rowSource: sourceIndices(rows),
    colSource: sourceIndices(cols),
  };
}

function sourceIndices(axis: AxisTiling): Int32Array {
  const reflected = reflectIndices(axis.size + axis.reflectPad[0] + axis.reflectPad[1], axis.reflectPad[0], axis.size);
  const out = new Int32Array(axis.paddedSize).fill(-1);
  for (let i = 0; i < reflected.length; i++) out[i + axis.zeroPad[0]] = reflected[i];
  return out;
}

/**
 * A power-2 spline window of `size` with ramps over the first `overlapBefore` and last `overlapAfter`
 * samples and 1 between (deepcell-toolbox `spline_window`).
 */
export function splineWindow(size: number, overlapBefore: number, overlapAfter: number, power = 2): Float32Array {
  const w = new Float32Array(size).fill(1);
  if (overlapBefore > 0) {
    const ramp = fullSpline(2 * overlapBefore, power);
    for (let i = 0; i < overlapBefore; i++) w[i] = ramp[i];
  }
  if (overlapAfter > 0) {
    const ramp = fullSpline(2 * overlapAfter, power);
    for (let i = 0; i < overlapAfter; i++) w[size - overlapAfter + i] = ramp[overlapAfter + i];
  }
  return w;
}

/**
 * The symmetric squared-spline window of length m, scaled to peak 1: outer quarters 2·|tri|^p/2·…,
 * i.e. |2·tri|^p / 2 near the ends and 1 − |2·(tri − 1)|^p / 2 in the middle, where tri is
 * scipy.signal.windows.triang(m).
 */
function fullSpline(m: number, power: number): Float64Array {
  const tri = triang(m);
  const intersection = Math.trunc(m / 4);
  const w = new Float64Array(m);
  let peak = 0;
  for (let i = 0; i < m; i++) {
    const outer = i < intersection || i >= m - intersection ? Math.abs(2 * tri[i]) ** power / 2 : 0;
    const inner = i < intersection || i >= m - intersection ? 0 : 1 - Math.abs(2 * (tri[i] - 1)) ** power / 2;
    w[i] = outer + inner;
    if (w[i] > peak) peak = w[i];
  }
  for (let i = 0; i < m; i++) w[i] /= peak;
  return w;
}

/** scipy.signal.windows.triang(m) (symmetric). */
function triang(m: number): Float64Array {
  const w = new Float64Array(m);
  const half = Math.ceil(m / 2);
  for (let n = 1; n <= half; n++) {
    const v = m % 2 === 0 ? (2 * n - 1) / m : (2 * n) / (m + 1);
    w[n - 1] = v;
    w[m - n] = v;
  }
  return w;
}

/**
 * Copies tile `index` (row-major over the grid) of an interleaved H×W×C image into `dest` at `offset`
 * as tileSize×tileSize×C, with the grid's reflect and zero padding applied on the fly.
 */
export function extractTile(image: Float32Array, channels: number, grid: TileGrid, index: number, dest: Float32Array, offset: number): void {
  const t = grid.tileSize;
  const y0 = grid.rows.starts[Math.trunc(index / grid.cols.count)];
  const x0 = grid.cols.starts[index % grid.cols.count];
  const rowStride = grid.width * channels;
  for (let ty = 0; ty < t; ty++) {
    const sy = grid.rowSource[y0 + ty];
    let d = offset + ty * t * channels;
    if (sy < 0) {
      dest.fill(0, d, d + t * channels);
      continue;
    }
    const rowBase = sy * rowStride;
    for (let tx = 0; tx < t; tx++) {
      const sx = grid.colSource[x0 + tx];
      if (sx < 0) {
        for (let c = 0; c < channels; c++) dest[d++] = 0;
      } else {
        let s = rowBase + sx * channels;
        for (let c = 0; c < channels; c++) dest[d++] = image[s++];
      }
    }
  }
}

/**
 * {@link extractTile} from normalised channels (see `NormalizedPlane`): each value is its channel's
 * float32 for the pixel's level (0 for a channel normalised to zeros), interleaved as the model wants.
 */
export function extractNormalizedTile(planes: NormalizedPlane[], grid: TileGrid, index: number, dest: Float32Array, offset: number): void {
  const t = grid.tileSize;
  const channels = planes.length;
  const y0 = grid.rows.starts[Math.trunc(index / grid.cols.count)];
  const x0 = grid.cols.starts[index % grid.cols.count];
  dest.fill(0, offset, offset + t * t * channels);
  // Columns that map one to one onto the image (no padding or reflection): most tiles, a plain run.
  const sx0 = grid.colSource[x0];
  let straight = sx0 >= 0;
  for (let tx = 1; straight && tx < t; tx++) straight = grid.colSource[x0 + tx] === sx0 + tx;
  for (let c = 0; c < channels; c++) {
    const { levels, unit } = planes[c];
    if (!levels) continue;
    for (let ty = 0; ty < t; ty++) {
      const sy = grid.rowSource[y0 + ty];
      if (sy < 0) continue;
      const rowBase = sy * grid.width;
      let d = offset + ty * t * channels + c;
      if (straight) {
        for (let s = rowBase + sx0, end = s + t; s < end; s++, d += channels) dest[d] = unit[levels[s]];
        continue;
      }
      for (let tx = 0; tx < t; tx++, d += channels) {
        const sx = grid.colSource[x0 + tx];
        if (sx >= 0) dest[d] = unit[levels[rowBase + sx]];
      }
    }
  }
}

/**
 * Adds (blended grids) or writes (others) one model output tile — tileSize×tileSize×C at `offset` in
 * `tile` — into the H×W×C output `out`, dropping padded pixels. Call in tile order for unblended grids.
 * With `ringRows`, `out` holds only that many rows, row y at slot y mod ringRows (a streamed band).
 */
export function accumulateTile(tile: Float32Array, offset: number, channels: number, grid: TileGrid, index: number, out: Float32Array, ringRows?: number): void {
  const t = grid.tileSize;
  const ri = Math.trunc(index / grid.cols.count);
  const ci = index % grid.cols.count;
  const y0 = grid.rows.starts[ri];
  const x0 = grid.cols.starts[ci];
  const rowOffset = grid.rows.zeroPad[0] + grid.rows.reflectPad[0];
  const colOffset = grid.cols.zeroPad[0] + grid.cols.reflectPad[0];
  const wy = grid.rowWindows[ri];
  const wx = grid.colWindows[ci];
  const rowStride = grid.width * channels;
  // Output x range covered by this tile.
  const xFrom = Math.max(0, colOffset - x0);
  const xTo = Math.min(t, grid.width + colOffset - x0);
  for (let ty = 0; ty < t; ty++) {
    const y = y0 + ty - rowOffset;
    if (y < 0 || y >= grid.height) continue;
    const outRow = (ringRows === undefined ? y : y % ringRows) * rowStride;
    const tileRow = offset + ty * t * channels;
    if (grid.blend) {
      const fy = wy[ty];
      let o = outRow + (x0 + xFrom - colOffset) * channels;
      let s = tileRow + xFrom * channels;
      // Mesmer's heads have 1 or 3 channels: straight-line loops for those, the general one otherwise.
      if (channels === 1) {
        for (let tx = xFrom; tx < xTo; tx++) out[o++] += tile[s++] * (fy * wx[tx]);
      } else if (channels === 3) {
        for (let tx = xFrom; tx < xTo; tx++, o += 3, s += 3) {
          const f = fy * wx[tx];
          out[o] += tile[s] * f;
          out[o + 1] += tile[s + 1] * f;
          out[o + 2] += tile[s + 2] * f;
        }
      } else {
        for (let tx = xFrom; tx < xTo; tx++) {
          const f = fy * wx[tx];
          for (let c = 0; c < channels; c++) out[o++] += tile[s++] * f;
        }
      }
    } else {
      const o = outRow + (x0 + xFrom - colOffset) * channels;
      out.set(tile.subarray(tileRow + xFrom * channels, tileRow + xTo * channels), o);
    }
  }
}
