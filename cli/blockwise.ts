import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HALO } from '../core/blocks/grid';
import { runBlockwise, type BlockwiseOutcome } from '../core/blocks/run';
import { testBlock, type TestBlockOutcome } from '../core/blocks/test-block';
import { BLOCK_STAGES, type BlockProgress } from '../core/contracts/block-schedule';
import { ConfigError } from '../core/errors';
import type { MaskFormat } from '../core/formats/mask-writer';
import { zarrMaskUri } from '../core/postprocess';
import type { Compartment } from '../core/postprocess/params';
import { cachedCollection } from '../core/predict/model-cache';
import { joinUri } from '../core/storage';
import { positive, resolveModel, type PredictCliOptions } from './commands/predict';
import { parseChannelList } from './run-input';

/**
 * The blockwise flags of `tessel segment` and `tessel quantify` and what they run: the same blockwise
 * code the Temporal workflow runs, here on a pool of worker threads.
 */
export interface BlockCliOptions {
  nuclearChannels?: (string | number)[];
  membraneChannels?: (string | number)[];
  combine?: 'sum' | 'max';
  blockSize?: number;
  halo: number;
  testBlock?: string;
  tissueThreshold: number;
  blocksDir?: string;
  blockThreads?: number;
}

function nonNegative(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(`--${flag}: expected a number ≥ 0, got '${v}'`);
    return n;
  };
}

/** Adds `--block-size`, `--halo`, `--block-threads`, `--blocks-dir` (and for segment `--test-block`, `--tissue-threshold`). */
export function addBlockOptions(cmd: Command, opts: { segment: boolean }): Command {
  cmd.option('--block-size <n>', 'work block by block, N×N pixels (a multiple of 256): memory set by the block, not the image, results equal to a ' +
    'whole-image run (see docs/blockwise.md)', positive('block-size', true));
  if (opts.segment) {
    cmd.option('--halo <n>', 'pixels each block sees past its edges (≥ 2 cell diameters; at most block size − 128)', nonNegative('halo'), DEFAULT_HALO)
      .option('--test-block <I,J>', 'with --block-size: segment only block row I, column J (with its halo) and write its masks and maps, to try settings first')
      .option('--tissue-threshold <x>', 'with --block-size: blocks whose nuclear and membrane pixels are all ≤ x (on a low-resolution level when the image has one) are skipped', nonNegative('tissue-threshold'), 0)
      .option('--nuclear-channels <list>', 'with --block-size and an image: nuclear channel names or indices, combined (as tessel convert)', parseChannelList)
      .option('--membrane-channels <list>', 'with --block-size and an image: membrane channel names or indices, combined (as tessel convert)', parseChannelList)
      .addOption(new Option('--combine <how>', 'with --block-size and an image: how several channels combine').choices(['sum', 'max']));
  }
  return cmd
    .option('--block-threads <n>', 'with --block-size: block tasks at once on worker threads (default: the machine\'s cores)', positive('block-threads', true))
    .option('--blocks-dir <dir>', 'with --block-size: keep the per-block intermediates here (default: a temporary folder, removed at the end)');
}

/** A temporary folder for the intermediates unless `--blocks-dir` names one; `done()` removes a temporary one. */
export async function blocksDir(o: BlockCliOptions): Promise<{ dir: string; done(): Promise<void> }> {
  if (o.blocksDir) return { dir: o.blocksDir, done: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), 'tessel-blocks-'));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

/** Bars per block stage on a terminal (blocks done / blocks the stage runs). */
export function blockProgressBars(): { update(p: BlockProgress): void; stop(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const multibar = new cliProgress.MultiBar({ stream: process.stderr, clearOnComplete: true, hideCursor: true, format: ' {stage} |{bar}| {value}/{total} blocks {extra}' }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update: (p) => {
      for (const s of BLOCK_STAGES) {
        const c = p[s];
        if (c.total === 0 && c.skipped === 0) continue;
        const extra = c.skipped ? `(${c.skipped} skipped)` : '';
        if (!bars.has(s)) bars.set(s, multibar.create(Math.max(1, c.total), 0, { stage: s.padEnd(9), extra }));
        bars.get(s)!.setTotal(Math.max(1, c.total));
        bars.get(s)!.update(c.done, { stage: s.padEnd(9), extra });
      }
    },
    stop: () => multibar.stop(),
  };
}

export interface BlockSegmentResult {
  mode: 'blocks' | 'test-block';
  outcome?: BlockwiseOutcome;
  test?: TestBlockOutcome;
  outputs: { wholeCellMaskUri: string; nucleusMaskUri: string; wholeCellBoxesUri: string; nucleusBoxesUri: string };
  seconds: number;
}

/** `tessel segment <image|npz> --block-size N …`: the whole image blockwise, or one test block. */
export async function segmentBlockwise(input: string, o: PredictCliOptions & BlockCliOptions & { outDir: string; name: string; maskFormat: MaskFormat },
  postprocess: { wholeCell: Record<string, number>; nuclear: Record<string, number> }): Promise<BlockSegmentResult> {
  const t0 = performance.now();
  if (o.testBlock && o.maskFormat !== 'ome-tiff') throw new ConfigError('--test-block writes its window\'s masks as OME-TIFF; leave out --mask-format ome-zarr');
  const model = await cachedCollection(await resolveModel(o.model));
  const zarr = (c: Compartment) => zarrMaskUri(o.outDir, o.name, c);
  const outputs = {
    ...(o.maskFormat === 'ome-zarr'
      ? { wholeCellMaskUri: zarr('whole-cell'), nucleusMaskUri: zarr('nuclear') }
      : { wholeCellMaskUri: joinUri(o.outDir, `${o.name}_WholeCellMask.tiff`), nucleusMaskUri: joinUri(o.outDir, `${o.name}_NucleusMask.tiff`) }),
    wholeCellBoxesUri: joinUri(o.outDir, `${o.name}_WholeCellBoxes.npy`), nucleusBoxesUri: joinUri(o.outDir, `${o.name}_NucleusBoxes.npy`),
  };
  const scratch = await blocksDir(o);
  const bars = blockProgressBars();
  try {
    const common = {
      inputUri: input, blockSize: o.blockSize!, halo: o.halo, model, batchSize: o.batchSize, device: o.device, cpuThreads: o.threads,
      dir: scratch.dir, threads: o.blockThreads, channels: { nuclear: o.nuclearChannels, membrane: o.membraneChannels, combine: o.combine },
    };
    if (o.testBlock) {
      const test = await testBlock({
        ...common, block: o.testBlock, postprocess, outDir: o.outDir, name: o.name,
        onPhase: process.stderr.isTTY ? (p) => process.stderr.write(`\r\x1b[Ktest block: ${p}`) : undefined,
      });
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      return { mode: 'test-block', test, outputs, seconds: (performance.now() - t0) / 1000 };
    }
    const outcome = await runBlockwise({
      ...common, tissueThreshold: o.tissueThreshold, settings: { postprocess, outputs: { ...outputs, maskFormat: o.maskFormat, name: o.name } }, onProgress: bars.update,
    });
    return { mode: 'blocks', outcome, outputs, seconds: (performance.now() - t0) / 1000 };
  } finally {
    bars.stop();
    await scratch.done();
  }
}

/** The one-line summary of a blockwise segment. */
export function describeBlockSegment(r: BlockSegmentResult): string {
  if (r.test) {
    const t = r.test;
    return `segment: test block ${t.block} (window x=${t.window.x} y=${t.window.y} ${t.window.width}×${t.window.height}), ${t.cells} cells and ${t.nuclei} nuclei ` +
      `in the window, ${t.tiles} model tiles -> ${t.outputs.wholeCellMaskUri}, ${t.outputs.nucleusMaskUri}, ${t.outputs.predictionsUri}; ${r.seconds.toFixed(2)} s\n`;
  }
  const o = r.outcome!;
  const l = o.layout;
  return `segment: ${l.width}×${l.height} in ${l.rows}×${l.cols} blocks of ${l.blockSize} (halo ${l.halo}): ${o.roles.tissue} segmented, ${o.roles.predictOnly} ` +
    `predict-only, ${o.roles.skipped} skipped; ${o.tiles} model tiles; ${o.counts['whole-cell']} cells -> ${r.outputs.wholeCellMaskUri}, ` +
    `${o.counts.nuclear} nuclei -> ${r.outputs.nucleusMaskUri}, boxes beside them; ${r.seconds.toFixed(2)} s\n`;
}
