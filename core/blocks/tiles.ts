import { accumulateTile, extractNormalizedTile, planTiles, type TileGrid } from '../predict/tiles';
import type { NormalizedPlane } from '../predict/normalize';
import { BLOCK_TISSUE, blockAt, blockCount, blockWindow, intersectRects, unionRects, type BlockLayout, type BlockRoles, type Rect } from './grid';

/**
 * Model tiles of a blockwise image. The tiles are the whole image's (Mesmer: 256 px at stride 192, on
 * the grid `planTiles` lays over the whole image), so every pixel is covered by the same tiles, cut from
 * the same normalised pixels and blended with the same windows as in a whole-image run. Each tile is
 * run once, by the block whose core holds its centre; a block's watershed window gathers the raw
 * outputs of every tile that touches it and blends them in the whole image's tile order — so its maps
 * are bit for bit the whole-image maps (onnxruntime gives a tile the same output whatever batch it is
 * in; checked in the tests on CPU).
 */

/** Mesmer's four heads reduced to the four maps the watershed reads, per tile pixel. */
export const MAP_CHANNELS = 4;
/** Which head and head channel each map comes from: inner distance and interior (pixelwise channel 1), whole cell then nuclear. */
export const MAP_SOURCES: readonly { head: number; channel: number }[] = [
  { head: 0, channel: 0 }, { head: 1, channel: 1 }, { head: 2, channel: 0 }, { head: 3, channel: 1 },
];

/** The whole image's tile grid. */
export function imageTileGrid(width: number, height: number, tileSize = 256, strideRatio = 0.75): TileGrid {
  return planTiles(width, height, tileSize, strideRatio);
}

/** Tile `t`'s pixels inside the image. */
export function tileRect(grid: TileGrid, t: number): Rect {
  const ri = Math.trunc(t / grid.cols.count), ci = t % grid.cols.count;
  const y = grid.rows.starts[ri] - grid.rows.zeroPad[0], x = grid.cols.starts[ci] - grid.cols.zeroPad[0];
  const y0 = Math.max(0, y), x0 = Math.max(0, x);
  return { x: x0, y: y0, width: Math.min(grid.width, x + grid.tileSize) - x0, height: Math.min(grid.height, y + grid.tileSize) - y0 };
}

/** The tiles touching `rect`, in the whole image's tile order. */
export function tilesTouching(grid: TileGrid, rect: Rect): number[] {
  const axis = (starts: number[], offset: number, from: number, to: number) =>
    starts.flatMap((s, i) => (s - offset < to && s - offset + grid.tileSize > from ? [i] : []));
  const rows = axis(grid.rows.starts, grid.rows.zeroPad[0], rect.y, rect.y + rect.height);
  const cols = axis(grid.cols.starts, grid.cols.zeroPad[0], rect.x, rect.x + rect.width);
  return rows.flatMap((r) => cols.map((c) => r * grid.cols.count + c));
}

/** The block that runs tile `t`: the one whose core holds the tile's centre (clamped into the image). */
export function tileOwner(layout: BlockLayout, grid: TileGrid, t: number): number {
  const r = tileRect(grid, t);
  const ri = Math.trunc(t / grid.cols.count), ci = t % grid.cols.count;
  const cy = grid.rows.starts[ri] - grid.rows.zeroPad[0] + (grid.tileSize >> 1);
  const cx = grid.cols.starts[ci] - grid.cols.zeroPad[0] + (grid.tileSize >> 1);
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  return blockAt(layout, clamp(cx, r.x, r.x + r.width - 1), clamp(cy, r.y, r.y + r.height - 1));
}

/**
 * Which tiles each block runs: those it owns that touch the window of a block that is segmented (role
 * `T`). A block without tissue runs the tiles its neighbours' halos need, and no others.
 */
export function tilesPerBlock(layout: BlockLayout, grid: TileGrid, roles: BlockRoles): number[][] {
  const needed = new Uint8Array(grid.count);
  for (let b = 0; b < blockCount(layout); b++) {
    if (roles[b] !== BLOCK_TISSUE) continue;
    for (const t of tilesTouching(grid, blockWindow(layout, b))) needed[t] = 1;
  }
  const out: number[][] = Array.from({ length: blockCount(layout) }, () => []);
  for (let t = 0; t < grid.count; t++) if (needed[t]) out[tileOwner(layout, grid, t)].push(t);
  return out;
}

/** The pixels a list of tiles covers inside the image (what a block must normalise to cut them). */
export function tilesExtent(grid: TileGrid, tiles: readonly number[]): Rect | undefined {
  let out: Rect | undefined;
  for (const t of tiles) out = unionRects(out, tileRect(grid, t));
  return out;
}

/**
 * The grid seen from `rect`: the same tiles and windows, with image rows and columns counted from the
 * rectangle's corner — so `extractNormalizedTile` cuts tiles from planes of just that rectangle and
 * `accumulateTile` blends into an output of just that rectangle, with the whole image's arithmetic.
 * Pixels of the image outside the rectangle read as padding; callers only touch tiles inside it.
 */
export function gridWithin(grid: TileGrid, rect: Rect): TileGrid {
  const shift = (source: Int32Array, from: number, length: number) => source.map((s) => (s >= from && s < from + length ? s - from : -1));
  return {
    ...grid,
    width: rect.width, height: rect.height,
    rows: { ...grid.rows, zeroPad: [grid.rows.zeroPad[0] + rect.y, grid.rows.zeroPad[1]] },
    cols: { ...grid.cols, zeroPad: [grid.cols.zeroPad[0] + rect.x, grid.cols.zeroPad[1]] },
    rowSource: shift(grid.rowSource, rect.y, rect.height),
    colSource: shift(grid.colSource, rect.x, rect.width),
  };
}

/** Cuts tile `t` (tileSize² × channels, interleaved) from normalised planes covering `extent`. */
export function cutTile(planes: NormalizedPlane[], extent: Rect, grid: TileGrid, t: number, dest: Float32Array, offset: number, within = gridWithin(grid, extent)): void {
  extractNormalizedTile(planes, within, t, dest, offset);
}

/**
 * Blends raw tile outputs ({@link MAP_CHANNELS} maps per pixel, tileSize² × 4 interleaved) into the maps
 * of `window`, in the whole image's tile order: `tiles` must be every tile touching the window,
 * ascending, and `read(t)` gives tile t's outputs.
 */
export async function blendWindow(grid: TileGrid, window: Rect, tiles: readonly number[], read: (t: number) => Promise<Float32Array>): Promise<Float32Array> {
  const within = gridWithin(grid, window);
  const out = new Float32Array(window.width * window.height * MAP_CHANNELS);
  let last = -1;
  for (const t of tiles) {
    if (t <= last) throw new RangeError('tiles must be blended in ascending order');
    last = t;
    if (!intersectRects(tileRect(grid, t), window)) continue;
    accumulateTile(await read(t), 0, MAP_CHANNELS, within, t, out);
  }
  return out;
}

/** One compartment's watershed maps out of blended window maps. */
export function windowMaps(maps: Float32Array, window: Rect, compartment: 'whole-cell' | 'nuclear'): { maxima: Float32Array; interior: Float32Array; width: number; height: number } {
  const n = window.width * window.height;
  const base = compartment === 'whole-cell' ? 0 : 2;
  const maxima = new Float32Array(n), interior = new Float32Array(n);
  for (let i = 0, j = base; i < n; i++, j += MAP_CHANNELS) { maxima[i] = maps[j]; interior[i] = maps[j + 1]; }
  return { maxima, interior, width: window.width, height: window.height };
}
