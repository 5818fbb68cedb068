import type { InferenceDevice, InferenceModel } from '../predict/session';
import { readBlob, readJson, writeBlob } from './files';
import { blockCore, unionRects } from './grid';
import { blockLevels, normalizationWindow, regionPlane, unitTable, type ChannelNormalization } from './norm';
import { blockTiles, type BlockContext } from './plan';
import { checkBlockwiseModel, predictBlockTiles } from './predict';
import { openBlockInput } from './source';
import { MAP_CHANNELS, tilesExtent } from './tiles';
import type { Rect } from './grid';

/** Per channel, the smallest and largest CLAHE level of a block's core (or of many: see {@link combineLevelRanges}). */
export interface LevelRanges { lo: number[]; hi: number[] }

/** Level ranges of many blocks as one (the image's, once every block is in). */
export function combineLevelRanges(a: LevelRanges | undefined, b: LevelRanges): LevelRanges {
  if (!a) return { lo: [...b.lo], hi: [...b.hi] };
  return { lo: a.lo.map((v, k) => Math.min(v, b.lo[k])), hi: a.hi.map((v, k) => Math.max(v, b.hi[k])) };
}

interface LevelsHeader { rect: Rect; present: boolean[] }

/**
 * A block's normalisation: CLAHE levels of both channels over its model tiles' extent (stored for its
 * predict task, when it runs tiles) and its core's level range (for the image's final rescale).
 */
export async function normalizeBlock(ctx: BlockContext, b: number): Promise<LevelRanges> {
  const { plan, files, grid } = ctx;
  const { layout } = plan;
  const core = blockCore(layout, b);
  const tiles = plan.roles ? blockTiles(layout, grid, plan.roles, b) : [];
  const region = unionRects(core, tilesExtent(grid, tiles))!;
  const { channels: norms } = await readJson<{ channels: ChannelNormalization[] }>(files.normalization);
  const window = normalizationWindow(layout, region, plan.normalization.kernelSize);
  const input = await openBlockInput(plan.inputUri, plan.channels);
  let planes: Float32Array[];
  try {
    planes = await input.readPlanes(window);
  } finally {
    await input.close();
  }
  const levels = planes.map((raw, k) => blockLevels(raw, window, layout, region, norms[k], core, plan.normalization.kernelSize));
  if (tiles.length > 0) {
    const header: LevelsHeader = { rect: region, present: levels.map((l) => l.levels !== null) };
    await writeBlob(files.levels(b), header, levels.flatMap((l) => (l.levels ? [l.levels] : [])));
  }
  return { lo: levels.map((l) => l.lo), hi: levels.map((l) => l.hi) };
}

export interface PredictBlockTaskOptions {
  model: InferenceModel;
  /** The image's level ranges (every block's combined). */
  levels: LevelRanges;
  batchSize?: number;
  device?: InferenceDevice;
  cpuThreads?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** A block's model tiles, run and stored raw for the watershed windows around them. */
export async function predictBlock(ctx: BlockContext, b: number, opts: PredictBlockTaskOptions): Promise<{ tiles: number; batchSize: number; modelLoadS: number }> {
  const { plan, files, grid } = ctx;
  checkBlockwiseModel(opts.model, plan.inputUri, plan.umPerPixel);
  const tiles = blockTiles(plan.layout, grid, plan.roles!, b);
  // A block can own no tile centre (a thin last row or column): nothing to run.
  if (tiles.length === 0) return { tiles: 0, batchSize: opts.batchSize ?? 0, modelLoadS: 0 };
  const { header, data } = await readBlob<LevelsHeader>(files.levels(b));
  const n = header.rect.width * header.rect.height;
  let at = 0;
  const planes = header.present.map((present, k) => {
    const levels = present ? new Uint16Array(data, 2 * n * at++, n) : null;
    return regionPlane(header.rect, levels, unitTable(opts.levels.lo[k], opts.levels.hi[k]));
  });
  const r = await predictBlockTiles({
    model: opts.model, planes, extent: header.rect, grid, tiles, batchSize: opts.batchSize, device: opts.device,
    cpuThreads: opts.cpuThreads, signal: opts.signal, onProgress: opts.onProgress,
  });
  await writeBlob(files.tiles(b), { tiles, tileSize: grid.tileSize, channels: MAP_CHANNELS }, [r.outputs]);
  return { tiles: tiles.length, batchSize: r.batchSize, modelLoadS: r.modelLoadS };
}
