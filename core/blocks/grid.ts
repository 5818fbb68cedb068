import { blockCount, blockLabel, blockLayout, type BlockLayout } from '../contracts/blocks';
import { ConfigError, TesselError, isTesselError } from '../errors';

export * from '../contracts/blocks';

/** Mask tiles are this size, so every block core is a whole number of them (the mask writer's alignment). */
export const MASK_TILE = 256;
/** Model tiles (Mesmer: 256 px) reach this far past a block's halo; the 3×3 neighbourhood must hold them. */
const TILE_REACH = 128;

/** Default halo: two diameters of a large cell (20 µm) at Mesmer's 0.5 µm/pixel, rounded up to 16 px. */
export const DEFAULT_HALO = 96;
/** Default block edge: measured (bench/blockwise.ts) to keep the halo's overlap and per-block costs small. */
export const DEFAULT_BLOCK_SIZE = 1024;

/**
 * The block grid of a `width × height` image, checked: the block edge a multiple of {@link MASK_TILE}
 * (so cores are tile-aligned for the mask writer) and the halo at most `blockSize − 128` (so a block's
 * window, and the model tiles it needs, lie within its 3×3 neighbourhood).
 * @throws ConfigError naming the flag.
 */
export function planGrid(width: number, height: number, blockSize: number, halo: number): BlockLayout {
  checkBlockSettings(blockSize, halo);
  if (!(width > 256 && height > 256)) {
    throw new ConfigError(`blockwise runs need an image larger than one 256-px model tile on both axes, got ${width}×${height}`);
  }
  return blockLayout(width, height, blockSize, halo);
}

/** Checks `--block-size` and `--halo` on their own (before an image's size is known). @throws ConfigError */
export function checkBlockSettings(blockSize: number, halo: number): void {
  if (!Number.isInteger(blockSize) || blockSize < MASK_TILE || blockSize % MASK_TILE !== 0) {
    throw new ConfigError(`--block-size must be a positive multiple of ${MASK_TILE}, got ${blockSize}`);
  }
  if (!Number.isInteger(halo) || halo < 0 || halo > blockSize - TILE_REACH) {
    throw new ConfigError(`--halo must be an integer from 0 to ${blockSize - TILE_REACH} (block size − ${TILE_REACH}) for --block-size ${blockSize}, got ${halo}`);
  }
}

/** Images above this many pixels run blockwise in a run unless `--blockwise-above-pixels` says otherwise (see docs/blockwise.md for the measurement). */
export const DEFAULT_BLOCKWISE_ABOVE_PIXELS = 4096 * 4096;

/** Parses `--test-block I,J` (row, column) against the grid. */
export function parseBlockIndex(layout: BlockLayout, text: string): number {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ConfigError(`--test-block must be I,J (block row, column), got '${text}'`);
  const row = Number(m[1]), col = Number(m[2]);
  if (row >= layout.rows || col >= layout.cols) {
    throw new ConfigError(`--test-block ${row},${col} is outside the ${layout.rows}×${layout.cols} block grid (rows 0–${layout.rows - 1}, columns 0–${layout.cols - 1})`);
  }
  return row * layout.cols + col;
}

/**
 * Runs one block's work so that a failure names the block: a Tessel error keeps its code (retryable or
 * not) with `block I,J:` in front of its message; anything else is rethrown as is.
 */
export async function inBlock<T>(layout: BlockLayout, index: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!isTesselError(e) || e.message.startsWith('block ')) throw e;
    throw new TesselError(e.code, `block ${blockLabel(layout, index)}: ${e.message}`, { file: e.file, cause: e, retryable: e.retryable, details: e.details });
  }
}

/** Every block index, in row-major order. */
export function allBlocks(layout: BlockLayout): number[] {
  return Array.from({ length: blockCount(layout) }, (_, i) => i);
}
