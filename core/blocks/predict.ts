import { ConfigError, UnsupportedFormatError } from '../errors';
import type { NormalizedPlane } from '../predict/normalize';
import { HEAD_ORDER, runTileBatches } from '../predict/pipeline';
import { getSession, type InferenceDevice, type InferenceModel } from '../predict/session';
import type { TileGrid } from '../predict/tiles';
import type { Rect } from './grid';
import { cutTile, gridWithin, MAP_CHANNELS, MAP_SOURCES } from './tiles';

/** Checks that a model suits blockwise runs: Mesmer normalisation, and the image at the model's resolution. */
export function checkBlockwiseModel(model: InferenceModel, imageUri: string, umPerPixel: number | undefined): void {
  const md = model.metadata;
  if (md.normalization.kind !== 'mesmer') {
    throw new ConfigError(`blockwise runs normalise with Mesmer's recipe; model ${md.name} asks for '${md.normalization.kind}'`, { file: model.uri });
  }
  if (umPerPixel !== undefined && Math.abs(umPerPixel / md.umPerPixel - 1) > 1e-9) {
    throw new UnsupportedFormatError(imageUri, `is ${umPerPixel} µm/pixel and model ${md.name} wants ${md.umPerPixel}: blockwise runs do not resample — resample the image first, or run it whole`);
  }
}

export interface PredictBlockOptions {
  model: InferenceModel;
  /** Normalised nuclear and membrane planes over `extent`. */
  planes: NormalizedPlane[];
  extent: Rect;
  /** The whole image's tile grid. */
  grid: TileGrid;
  /** Tiles to run (ascending), all inside `extent`. */
  tiles: readonly number[];
  batchSize?: number;
  device?: InferenceDevice;
  cpuThreads?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs a block's model tiles: cut from its normalised planes, batched through the model's session, and
 * kept raw — per tile pixel the four maps the watershed reads ({@link MAP_SOURCES}), tile after tile
 * (tileSize² × 4 float32 each) — for the watershed windows to blend.
 */
export async function predictBlockTiles(opts: PredictBlockOptions): Promise<{ outputs: Float32Array; batchSize: number; cpuS: number; modelLoadS: number }> {
  const { model, grid, tiles } = opts;
  const md = model.metadata;
  const t0 = performance.now();
  const ms = await getSession(model, { device: opts.device ?? 'cpu', cpuThreads: opts.cpuThreads });
  const modelLoadS = ms.createS > 0 ? (performance.now() - t0) / 1000 : 0;
  const order = HEAD_ORDER.map((meaning) => md.outputs.findIndex((o) => o.meaning === meaning));
  const headNames = order.map((i) => md.outputs[i].name);
  const headChannels = order.map((i) => ms.outputChannels[i]);
  const t = grid.tileSize;
  const px = t * t;
  const outputs = new Float32Array(tiles.length * px * MAP_CHANNELS);
  const within = gridWithin(grid, opts.extent);
  const loop = await runTileBatches(ms, {
    count: tiles.length, tileSize: t, headNames, headChannels, batchSize: opts.batchSize, signal: opts.signal, onProgress: opts.onProgress,
    fill: (k, dest, offset) => cutTile(opts.planes, opts.extent, grid, tiles[k], dest, offset, within),
    take: (out, first, n) => {
      for (let m = 0; m < MAP_CHANNELS; m++) {
        const { head, channel } = MAP_SOURCES[m];
        const data = out[headNames[head]].data;
        const c = headChannels[head];
        for (let k = 0; k < n; k++) {
          const base = (first + k) * px * MAP_CHANNELS + m;
          for (let p = 0, s = k * px * c + channel; p < px; p++, s += c) outputs[base + p * MAP_CHANNELS] = data[s];
        }
      }
    },
  });
  return { outputs, batchSize: loop.batchSize, cpuS: loop.cpuS, modelLoadS };
}
