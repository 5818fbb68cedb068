import { type Command, Option } from 'commander';
import { postprocess } from '../../core/postprocess';
import { CompartmentSelection } from '../../core/postprocess/params';
import { ConfigError } from '../../core/errors';
import { closeIdleThreads } from '../../core/parallel/run-in-worker';
import { releaseSessions } from '../../core/predict/session';
import { joinUri } from '../../core/storage';
import { addMaskFormatOption, maskFormatOf } from '../mask-format-option';
import { addWatershedOptions, WATERSHED_DEFAULTS_HELP, watershedOverrides } from '../watershed-options';
import { addPredictOptions, type PredictCliOptions, runPredict } from './predict';
import { addBlockOptions, describeBlockSegment, segmentBlockwise, type BlockCliOptions } from '../blockwise';

/**
 * Up to this many pixels `tessel segment` runs the two compartments' watersheds at once, a thread each:
 * at 2048² both cores work instead of one (postprocess 3.7–3.8 s → 2.5 s) for 50–115 MB more peak RSS (measured with the reference model).
 * Above it one compartment after the other, where bytes per pixel are what matter.
 */
export const SEGMENT_PARALLEL_MAX_PIXELS = 8 * 1024 * 1024;

export function register(program: Command): void {
  const cmd = program
    .command('segment <input>')
    .description('Predict then postprocess in one go, without Temporal: Mesmer inference on the NPZ intermediate (see `tessel predict`), ' +
      'then deep watershed (see `tessel postprocess`). Writes <out-dir>/<name>_raw_predictions.npz (or --predictions), ' +
      '<out-dir>/<name>_WholeCellMask.tiff and <out-dir>/<name>_NucleusMask.tiff (or, with --mask-format ome-zarr, the labels of <out-dir>/<name>.ome.zarr).\n' +
      'With --block-size N, <input> may also be the OME-TIFF itself (channels as `tessel convert` picks them) and the image is done block ' +
      'by block on worker threads, in memory set by the block: the same masks as a whole-image run (OME-TIFF or OME-Zarr labels, written tile by tile), plus <name>_WholeCellBoxes.npy and ' +
      '<name>_NucleusBoxes.npy (per-label bounding boxes); --test-block I,J does one block with its halo.\n\n' + WATERSHED_DEFAULTS_HELP)
    .requiredOption('--out-dir <dir>', 'folder (local path or gs://) for the masks and predictions')
    .requiredOption('--name <name>', 'image name used in the output file names')
    .addOption(new Option('--compartment <which>', 'compartments to segment').choices(CompartmentSelection.options).default('both'))
    .option('--predictions <npz>', 'where the raw predictions go (default: <out-dir>/<name>_raw_predictions.npz)')
    .option('--json', 'print the result as JSON on stdout');
  addPredictOptions(cmd);
  addWatershedOptions(cmd);
  addBlockOptions(cmd, { segment: true });
  addMaskFormatOption(cmd);
  cmd.action(async (npz: string, o: PredictCliOptions & BlockCliOptions & Record<string, unknown>) => {
    const outDir = o.outDir as string;
    const name = o.name as string;
    if (o.blockSize !== undefined || o.testBlock !== undefined) {
      if (o.blockSize === undefined) throw new ConfigError('--test-block needs --block-size');
      if (o.compartment !== 'both') throw new ConfigError('--block-size segments both compartments; leave out --compartment');
      if (o.predictions) throw new ConfigError('--block-size keeps the model tiles\' outputs per block (see --blocks-dir), not one raw_predictions.npz; leave out --predictions');
      const r = await segmentBlockwise(npz, { ...o, outDir, name, maskFormat: maskFormatOf(o) }, watershedOverrides(o));
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : describeBlockSegment(r));
      return;
    }
    if (!npz.endsWith('.npz')) throw new ConfigError(`segment reads an NPZ intermediate (tessel convert makes one), or with --block-size the image itself; got '${npz}'`);
    const predictionsUri = (o.predictions as string | undefined) ?? joinUri(outDir, `${name}_raw_predictions.npz`);
    const overrides = watershedOverrides(o);
    const t0 = performance.now();
    const p = await runPredict(npz, predictionsUri, o);
    // The model and the normalisation threads are not needed again in this process: their memory
    // (weights, activations, thread heaps) goes before the watershed's.
    await releaseSessions();
    await closeIdleThreads();
    const tty = process.stderr.isTTY === true;
    const t1 = performance.now();
    // Each compartment's thread reads its two maps back from the NPZ just written (the page cache has
    // it). Above SEGMENT_PARALLEL_MAX_PIXELS one compartment after the other: the process then holds one
    // compartment's maps and watershed at a time, never all four heads (32 bytes/pixel) nor both watersheds.
    const m = await postprocess({
      predictionsUri, outDir, name, compartment: o.compartment as CompartmentSelection, maskFormat: maskFormatOf(o), ...overrides,
      concurrency: p.width * p.height <= SEGMENT_PARALLEL_MAX_PIXELS ? 2 : 1,
      onProgress: tty ? (f) => process.stderr.write(`\rpostprocess ${(f * 100).toFixed(0).padStart(3)}%`) : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
    const postprocessS = (performance.now() - t1) / 1000;
    const totalS = (performance.now() - t0) / 1000;
    if (o.json) {
      process.stdout.write(JSON.stringify({ predictionsUri, predict: p, postprocess: m, postprocessS, totalS }, null, 2) + '\n');
      return;
    }
    const parts = [
      m.wholeCellMaskUri && `${m.wholeCellCount} cells -> ${m.wholeCellMaskUri}`,
      m.nucleusMaskUri && `${m.nucleusCount} nuclei -> ${m.nucleusMaskUri}`,
    ].filter(Boolean);
    process.stdout.write(`segment: ${p.width}×${p.height}, ${p.tiles} tiles, ${parts.join(', ')}; predict ${((t1 - t0) / 1000).toFixed(2)} s, ` +
      `postprocess ${postprocessS.toFixed(2)} s, total ${totalS.toFixed(2)} s\n`);
  });
}
