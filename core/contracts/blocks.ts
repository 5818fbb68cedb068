/**
 * The block grid of a blockwise image, as the workflows, activities and core agree on it: pure
 * geometry (no validation here — `core/blocks/grid.ts` checks sizes and names bad ones).
 *
 * Blocks tile the image from its origin in `blockSize` squares (the last row and column may be
 * smaller). A block's *core* is its square; its *window* is the core grown by `halo` on every side,
 * clipped to the image: the pixels a block predicts and segments. Every pixel lies in exactly one core.
 */

/** A rectangle in image pixel coordinates. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface BlockLayout {
  width: number;
  height: number;
  blockSize: number;
  halo: number;
  rows: number;
  cols: number;
}

export function blockLayout(width: number, height: number, blockSize: number, halo: number): BlockLayout {
  return { width, height, blockSize, halo, rows: Math.ceil(height / blockSize), cols: Math.ceil(width / blockSize) };
}

export function blockCount(l: BlockLayout): number {
  return l.rows * l.cols;
}

/** Row and column of block `index` (row-major). */
export function blockPosition(l: BlockLayout, index: number): { row: number; col: number } {
  return { row: Math.floor(index / l.cols), col: index % l.cols };
}

/** The block name used in file names, messages and progress: `row,col` → `r0003c0012`. */
export function blockKey(l: BlockLayout, index: number): string {
  const { row, col } = blockPosition(l, index);
  return `r${String(row).padStart(4, '0')}c${String(col).padStart(4, '0')}`;
}

/** `I,J` as users write it (row, column). */
export function blockLabel(l: BlockLayout, index: number): string {
  const { row, col } = blockPosition(l, index);
  return `${row},${col}`;
}

export function blockCore(l: BlockLayout, index: number): Rect {
  const { row, col } = blockPosition(l, index);
  const x = col * l.blockSize, y = row * l.blockSize;
  return { x, y, width: Math.min(l.blockSize, l.width - x), height: Math.min(l.blockSize, l.height - y) };
}

export function blockWindow(l: BlockLayout, index: number): Rect {
  return growRect(blockCore(l, index), l.halo, l);
}

/** `r` grown by `by` on every side, clipped to the image. */
export function growRect(r: Rect, by: number, image: { width: number; height: number }): Rect {
  const x0 = Math.max(0, r.x - by), y0 = Math.max(0, r.y - by);
  const x1 = Math.min(image.width, r.x + r.width + by), y1 = Math.min(image.height, r.y + r.height + by);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The overlap of two rectangles, or undefined. */
export function intersectRects(a: Rect, b: Rect): Rect | undefined {
  const x0 = Math.max(a.x, b.x), y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width), y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : undefined;
}

/** The smallest rectangle holding both (either may be undefined). */
export function unionRects(a: Rect | undefined, b: Rect | undefined): Rect | undefined {
  if (!a) return b;
  if (!b) return a;
  const x0 = Math.min(a.x, b.x), y0 = Math.min(a.y, b.y);
  const x1 = Math.max(a.x + a.width, b.x + b.width), y1 = Math.max(a.y + a.height, b.y + b.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The block whose core holds pixel (x, y). */
export function blockAt(l: BlockLayout, x: number, y: number): number {
  return Math.floor(y / l.blockSize) * l.cols + Math.floor(x / l.blockSize);
}

/** The blocks of the 3×3 neighbourhood around `index` (itself included), row-major. */
export function neighbourhood(l: BlockLayout, index: number): number[] {
  const { row, col } = blockPosition(l, index);
  const out: number[] = [];
  for (let r = row - 1; r <= row + 1; r++) {
    for (let c = col - 1; c <= col + 1; c++) if (r >= 0 && c >= 0 && r < l.rows && c < l.cols) out.push(r * l.cols + c);
  }
  return out;
}

/**
 * The neighbours a block is matched with when stitching — right, below-left, below, below-right — so
 * each adjacent pair (faces and corners) is matched once, by its upper-left member.
 */
export function matchPartners(l: BlockLayout, index: number): number[] {
  const { row, col } = blockPosition(l, index);
  const out: number[] = [];
  for (const [dr, dc] of [[0, 1], [1, -1], [1, 0], [1, 1]]) {
    const r = row + dr, c = col + dc;
    if (r >= 0 && c >= 0 && r < l.rows && c < l.cols) out.push(r * l.cols + c);
  }
  return out;
}

/**
 * What each block does, one character per block (row-major), decided by the plan: `T` tissue (every
 * stage), `P` no tissue but its model tiles are needed by a neighbour's halo (predict only), `-` skipped.
 */
export type BlockRoles = string;

export const BLOCK_TISSUE = 'T';
export const BLOCK_PREDICT_ONLY = 'P';
export const BLOCK_SKIPPED = '-';
