import { availableParallelism } from 'node:os';
import { writeLabelMask } from '../formats/tiff-write';
import { writeNpz } from '../formats/npz';
import type { InferenceDevice, InferenceModel } from '../predict/session';
import { joinUri } from '../storage';
import { openBlob, readJson, writeJson } from './files';
import {
  BLOCK_PREDICT_ONLY, BLOCK_SKIPPED, BLOCK_TISSUE, allBlocks, blockCore, blockKey, blockLabel, blockWindow, neighbourhood, parseBlockIndex, type Rect,
} from './grid';
import { blockTiles, loadContext, planBlocks, type BlockPlan } from './plan';
import { checkBlockwiseModel } from './predict';
import { readNpz } from '../formats/npz';
import { combineLevelRanges, predictBlock, type LevelRanges } from './stage-predict';
import type { WatershedOverrides } from './stage-segment';
import { blendWindow, MAP_CHANNELS, tileOwner, tilesTouching } from './tiles';
import { runCpuTask } from './worker-tasks';

/**
 * "Test one block first": one block segmented with its halo, before a slide goes to a cluster. The
 * statistics passes read the whole image (exact, and only reads); CLAHE's final rescale range comes from
 * the 3×3 blocks around the test block (the full run takes it from every block: the one approximation,
 * usually none, as that range is nearly always the full 0–16383); only the model tiles the block's
 * window needs are run. Writes the window's masks, its four maps and a JSON note with where it lies.
 */
export interface TestBlockOptions {
  inputUri: string;
  channels?: BlockPlan['channels'];
  blockSize: number;
  halo: number;
  /** `I,J`: block row and column. */
  block: string;
  model: InferenceModel;
  batchSize?: number;
  device?: InferenceDevice;
  cpuThreads?: number;
  postprocess?: WatershedOverrides;
  dir: string;
  outDir: string;
  name: string;
  threads?: number;
  signal?: AbortSignal;
  onPhase?: (phase: string) => void;
}

export interface TestBlockOutcome {
  block: string;
  core: Rect;
  window: Rect;
  cells: number;
  nuclei: number;
  tiles: number;
  outputs: { wholeCellMaskUri: string; nucleusMaskUri: string; predictionsUri: string; noteUri: string };
}

export async function testBlock(opts: TestBlockOptions): Promise<TestBlockOutcome> {
  const md = opts.model.metadata;
  const phase = opts.onPhase ?? (() => undefined);
  const plan = await planBlocks({
    inputUri: opts.inputUri, channels: opts.channels, blockSize: opts.blockSize, halo: opts.halo, dir: opts.dir,
    model: { tileSize: md.tileSize, strideRatio: md.strideRatio, clipPercentile: md.normalization.clipPercentile, kernelSize: md.normalization.kernelSize },
  });
  checkBlockwiseModel(opts.model, plan.inputUri, plan.umPerPixel);
  const { layout } = plan;
  const b = parseBlockIndex(layout, opts.block);
  const pool = new Pool(opts.threads ?? availableParallelism());
  const cpu = (stage: 'first' | 'second' | 'normalize' | 'watershed', block: number) => pool.run(() => runCpuTask(opts.dir, { stage, block }, { postprocess: opts.postprocess }, { signal: opts.signal }));

  phase('statistics (whole image, pass 1 of 2)');
  await Promise.all(allBlocks(layout).map((k) => cpu('first', k)));
  await runCpuTask(opts.dir, { stage: 'reduceFirst' }, {});
  // Only the test block is segmented; its neighbours run the tiles its window needs.
  const ctx = await loadContext(opts.dir);
  let roles = [...allBlocks(layout)].map((k) => (k === b ? BLOCK_TISSUE : BLOCK_SKIPPED)).join('');
  roles = [...roles].map((r, k) => (r === BLOCK_SKIPPED && blockTiles(layout, ctx.grid, roles, k).length > 0 ? BLOCK_PREDICT_ONLY : r)).join('');
  await writeJson(ctx.files.plan, { ...ctx.plan, roles });
  phase('statistics (whole image, pass 2 of 2)');
  await Promise.all(allBlocks(layout).map((k) => cpu('second', k)));
  await runCpuTask(opts.dir, { stage: 'reduceSecond' }, {});
  phase('normalisation (3×3 blocks)');
  const near = neighbourhood(layout, b);
  let levels: LevelRanges | undefined;
  for (const r of await Promise.all(near.map((k) => cpu('normalize', k)))) levels = combineLevelRanges(levels, r as LevelRanges);
  phase('model tiles');
  const c2 = await loadContext(opts.dir);
  let tiles = 0;
  for (const k of near) {
    if (roles[k] === BLOCK_SKIPPED) continue;
    tiles += (await predictBlock(c2, k, { model: opts.model, levels: levels!, batchSize: opts.batchSize, device: opts.device, cpuThreads: opts.cpuThreads, signal: opts.signal })).tiles;
  }
  phase('watershed');
  const counts = await cpu('watershed', b) as Record<'whole-cell' | 'nuclear', number>;

  const window = blockWindow(layout, b);
  const stem = `${opts.name}_block_${blockLabel(layout, b).replace(',', '_')}`;
  const outputs = {
    wholeCellMaskUri: joinUri(opts.outDir, `${stem}_WholeCellMask.tiff`),
    nucleusMaskUri: joinUri(opts.outDir, `${stem}_NucleusMask.tiff`),
    predictionsUri: joinUri(opts.outDir, `${stem}_predictions.npz`),
    noteUri: joinUri(opts.outDir, `${stem}.json`),
  };
  const labels = await readNpz(c2.files.labels(b));
  await writeLabelMask(outputs.wholeCellMaskUri, { data: labels.get('whole_cell')!.data as Int32Array, width: window.width, height: window.height });
  await writeLabelMask(outputs.nucleusMaskUri, { data: labels.get('nuclear')!.data as Int32Array, width: window.width, height: window.height });
  await writeNpz(outputs.predictionsUri, await windowPredictions(opts.dir, b));
  const pieces = await readJson<{ pieces: Record<string, unknown[]> }>(c2.files.pieces(b));
  const result: TestBlockOutcome = {
    block: blockLabel(layout, b), core: blockCore(layout, b), window, cells: counts['whole-cell'], nuclei: counts.nuclear, tiles, outputs,
  };
  await writeJson(outputs.noteUri, {
    ...result, key: blockKey(layout, b), image: opts.inputUri, imageSize: [layout.width, layout.height], blockSize: layout.blockSize, halo: layout.halo,
    cellsInCore: pieces.pieces['whole-cell'].length,
    note: 'Masks and maps cover the window (core + halo); labels are the window\'s own. CLAHE\'s rescale range came from the 3×3 blocks around this one.',
  });
  return result;
}

/** The window's four maps (as the watershed saw them), as named H×W float32 arrays. */
async function windowPredictions(dir: string, b: number): Promise<Record<string, { data: Float32Array; shape: number[]; dtype: 'float32' }>> {
  const ctx = await loadContext(dir);
  const { layout } = ctx.plan;
  const window = blockWindow(layout, b);
  const px = ctx.grid.tileSize ** 2 * MAP_CHANNELS;
  const maps = await blendWindow(ctx.grid, window, tilesTouching(ctx.grid, window), async (t) => {
    const f = await openBlob<{ tiles: number[] }>(ctx.files.tiles(tileOwner(layout, ctx.grid, t)));
    try {
      const bytes = await f.read(f.header.tiles.indexOf(t) * px * 4, px * 4);
      return new Float32Array(bytes.buffer, bytes.byteOffset, px);
    } finally {
      await f.close();
    }
  });
  const names = ['whole_cell_inner_distance', 'whole_cell_interior', 'nuclear_inner_distance', 'nuclear_interior'];
  const n = window.width * window.height;
  return Object.fromEntries(names.map((name, m) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = maps[i * MAP_CHANNELS + m];
    return [name, { data, shape: [window.height, window.width], dtype: 'float32' as const }];
  }));
}

/** At most `size` jobs at once. */
export class Pool {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  async run<T>(job: () => Promise<T>): Promise<T> {
    while (this.active >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await job();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
