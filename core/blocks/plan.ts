import type { TileGrid } from '../predict/tiles';
import { BlockFiles, readJson, writeJson } from './files';
import {
  BLOCK_PREDICT_ONLY, BLOCK_SKIPPED, BLOCK_TISSUE, blockCore, blockCount, blockWindow, growRect, intersectRects, neighbourhood,
  planGrid, type BlockLayout, type BlockRoles,
} from './grid';
import { FirstPassTotal, SecondPassTotal, firstPassStats, secondPassStats, type ChannelNormalization, type ChannelSelection, type FirstPassStats, type SecondPassStats } from './norm';
import { openBlockInput, type ChannelPlan } from './source';
import { imageTileGrid, tileOwner, tileRect, tilesTouching } from './tiles';

/**
 * A blockwise image's plan and its statistics passes: the grid, each block's role (segmented, predict
 * only, skipped), the model's tile geometry and normalisation settings, and the tissue check.
 */
export interface BlockPlan {
  version: 1;
  /** The image (read by region) or an NPZ intermediate. */
  inputUri: string;
  channels: ChannelPlan;
  nuclear: string[];
  membrane: string[];
  umPerPixel?: number;
  layout: BlockLayout;
  tiles: { tileSize: number; strideRatio: number };
  normalization: { clipPercentile: number; kernelSize: number };
  tissue: {
    /** A block is tissue when some pixel of its nuclear or membrane input exceeds this. */
    threshold: number;
    /** The pyramid level checked (then `lowRes` holds the verdicts), or absent: level 0, in the first pass. */
    level?: number;
    lowRes?: string;
  };
  /** One character per block (see `BlockRoles`), set by {@link reduceFirstPasses}. */
  roles?: BlockRoles;
}

export interface PlanOptions {
  inputUri: string;
  channels?: ChannelPlan;
  blockSize: number;
  halo: number;
  tissueThreshold?: number;
  /** The model's tile geometry and normalisation settings (its metadata). */
  model: { tileSize: number; strideRatio: number; clipPercentile: number; kernelSize: number };
  /** Folder for the intermediates. */
  dir: string;
}

/**
 * Plans a blockwise image: checks the grid, and runs the tissue check on the coarsest pyramid level
 * that still gives every block at least 4×4 pixels (a level is a few megapixels at most, so this is
 * cheap); without such a level, the check happens on full-resolution pixels during the first pass.
 */
export async function planBlocks(opts: PlanOptions): Promise<BlockPlan> {
  const input = await openBlockInput(opts.inputUri, opts.channels);
  try {
    const layout = planGrid(input.width, input.height, opts.blockSize, opts.halo);
    const threshold = opts.tissueThreshold ?? 0;
    const plan: BlockPlan = {
      version: 1, inputUri: opts.inputUri, channels: opts.channels ?? {}, nuclear: input.nuclear, membrane: input.membrane,
      umPerPixel: input.umPerPixel, layout,
      tiles: { tileSize: opts.model.tileSize, strideRatio: opts.model.strideRatio },
      normalization: { clipPercentile: opts.model.clipPercentile, kernelSize: opts.model.kernelSize },
      tissue: { threshold },
    };
    for (let level = input.levels - 1; level >= 1; level--) {
      const low = await input.readLevel(level);
      if (!low || low.width < 4 * layout.cols || low.height < 4 * layout.rows) continue;
      plan.tissue.level = level;
      plan.tissue.lowRes = lowResTissue(layout, low, threshold);
      break;
    }
    await writeJson(new BlockFiles(opts.dir, layout).plan, plan);
    return plan;
  } finally {
    await input.close();
  }
}

/** Per block, `T` when a pixel of the low-resolution level under its core exceeds the threshold. */
function lowResTissue(layout: BlockLayout, low: { planes: [Float32Array, Float32Array]; width: number; height: number }, threshold: number): string {
  const sx = low.width / layout.width, sy = low.height / layout.height;
  let out = '';
  for (let b = 0; b < blockCount(layout); b++) {
    const core = blockCore(layout, b);
    const x0 = Math.floor(core.x * sx), x1 = Math.min(low.width, Math.ceil((core.x + core.width) * sx));
    const y0 = Math.floor(core.y * sy), y1 = Math.min(low.height, Math.ceil((core.y + core.height) * sy));
    let tissue = false;
    for (let y = y0; y < y1 && !tissue; y++) {
      for (let x = x0; x < x1; x++) {
        const i = y * low.width + x;
        if (low.planes[0][i] > threshold || low.planes[1][i] > threshold) { tissue = true; break; }
      }
    }
    out += tissue ? BLOCK_TISSUE : BLOCK_SKIPPED;
  }
  return out;
}

/** The plan, its files and the image's tile grid. */
export interface BlockContext {
  plan: BlockPlan;
  files: BlockFiles;
  grid: TileGrid;
}

const grids = new Map<string, TileGrid>();

/** Loads a blockwise image's plan from its folder. */
export async function loadContext(dir: string): Promise<BlockContext> {
  const plan = await readJson<BlockPlan>(BlockFiles.planIn(dir));
  const { layout, tiles } = plan;
  const key = `${layout.width}x${layout.height}/${tiles.tileSize}/${tiles.strideRatio}`;
  let grid = grids.get(key);
  if (!grid) {
    grid = imageTileGrid(layout.width, layout.height, tiles.tileSize, tiles.strideRatio);
    if (grids.size > 8) grids.clear();
    grids.set(key, grid);
  }
  return { plan, files: new BlockFiles(dir, layout), grid };
}

/**
 * The model tiles block `b` runs: those whose centre lies in its core and that touch the window of a
 * segmented block (which can only be one of its 3×3 neighbourhood: the halo is at most the block
 * size − 128).
 */
export function blockTiles(layout: BlockLayout, grid: TileGrid, roles: BlockRoles, b: number): number[] {
  const near = growRect(blockCore(layout, b), grid.tileSize, layout);
  const windows = neighbourhood(layout, b).filter((m) => roles[m] === BLOCK_TISSUE).map((m) => blockWindow(layout, m));
  if (windows.length === 0) return [];
  return tilesTouching(grid, near).filter((t) => tileOwner(layout, grid, t) === b && windows.some((w) => intersectRects(tileRect(grid, t), w)));
}

/** A block's first pass: per channel, its core's statistics. */
export async function firstPass(ctx: BlockContext, b: number): Promise<void> {
  const input = await openBlockInput(ctx.plan.inputUri, ctx.plan.channels);
  try {
    const planes = await input.readPlanes(blockCore(ctx.plan.layout, b));
    await writeJson(ctx.files.firstPass(b), { channels: planes.map((p) => firstPassStats(p)) });
  } finally {
    await input.close();
  }
}

/**
 * Sums every block's first pass (the percentile's ranks per channel) and decides the blocks' roles:
 * tissue blocks are segmented; others run the model tiles a tissue neighbour's halo needs, or nothing.
 */
export async function reduceFirstPasses(ctx: BlockContext): Promise<{ roles: BlockRoles; tissue: number; predictOnly: number; skipped: number }> {
  const { plan, files, grid } = ctx;
  const { layout } = plan;
  const totals = [new FirstPassTotal(), new FirstPassTotal()];
  let tissue = '';
  for (let b = 0; b < blockCount(layout); b++) {
    const { channels } = await readJson<{ channels: FirstPassStats[] }>(files.firstPass(b));
    channels.forEach((c, k) => totals[k].add(c));
    const isTissue = plan.tissue.lowRes ? plan.tissue.lowRes[b] === BLOCK_TISSUE : channels.some((c) => c.max > plan.tissue.threshold);
    tissue += isTissue ? BLOCK_TISSUE : BLOCK_SKIPPED;
  }
  let roles = '';
  for (let b = 0; b < blockCount(layout); b++) {
    roles += tissue[b] === BLOCK_TISSUE ? BLOCK_TISSUE : blockTiles(layout, grid, tissue, b).length > 0 ? BLOCK_PREDICT_ONLY : BLOCK_SKIPPED;
  }
  await writeJson(files.selection, { channels: totals.map((t) => t.selection(plan.normalization.clipPercentile)) });
  await writeJson(files.plan, { ...plan, roles });
  const count = (r: string) => [...roles].filter((c) => c === r).length;
  return { roles, tissue: count(BLOCK_TISSUE), predictOnly: count(BLOCK_PREDICT_ONLY), skipped: count(BLOCK_SKIPPED) };
}

/** A block's second pass: per channel, the low key bits in the percentile's buckets. */
export async function secondPass(ctx: BlockContext, b: number): Promise<void> {
  const { channels: selection } = await readJson<{ channels: ChannelSelection[] }>(ctx.files.selection);
  const input = await openBlockInput(ctx.plan.inputUri, ctx.plan.channels);
  try {
    const planes = await input.readPlanes(blockCore(ctx.plan.layout, b));
    await writeJson(ctx.files.secondPass(b), { channels: planes.map((p, k) => secondPassStats(p, selection[k])) });
  } finally {
    await input.close();
  }
}

/** Sums every block's second pass into each channel's global normalisation. */
export async function reduceSecondPasses(ctx: BlockContext): Promise<ChannelNormalization[]> {
  const { plan, files } = ctx;
  const { channels: selection } = await readJson<{ channels: ChannelSelection[] }>(files.selection);
  const totals = selection.map((s) => new SecondPassTotal(s));
  for (let b = 0; b < blockCount(plan.layout); b++) {
    const { channels } = await readJson<{ channels: SecondPassStats[] }>(files.secondPass(b));
    channels.forEach((c, k) => totals[k].add(c));
  }
  const names = [`nuclear (${plan.nuclear.join('+')})`, `membrane (${plan.membrane.join('+')})`];
  const norms = totals.map((t, k) => t.normalization(plan.inputUri, names[k]));
  await writeJson(files.normalization, { channels: norms });
  return norms;
}
