import { type Command, Option } from 'commander';
import { postprocess } from '../../core/postprocess';
import { CompartmentSelection } from '../../core/postprocess/params';
import { addMaskFormatOption, maskFormatOf } from '../mask-format-option';
import { addWatershedOptions, WATERSHED_DEFAULTS_HELP, watershedOverrides } from '../watershed-options';

export function register(program: Command): void {
  const cmd = program
    .command('postprocess <raw_predictions.npz>')
    .description('Deep watershed (Mesmer recipe, deepcell-toolbox semantics) on raw Mesmer predictions: writes int32 label masks ' +
      '<out-dir>/<name>_WholeCellMask.tiff and/or <out-dir>/<name>_NucleusMask.tiff atomically (or, with --mask-format ome-zarr, the labels of ' +
      '<out-dir>/<name>.ome.zarr). The steps of both compartments share two worker threads.\n\n' +
      WATERSHED_DEFAULTS_HELP)
    .requiredOption('--out-dir <dir>', 'folder (local path or gs://) that receives the masks')
    .requiredOption('--name <name>', 'image name used in the mask file names')
    .addOption(new Option('--compartment <which>', 'compartments to segment').choices(CompartmentSelection.options).default('both'))
    .option('--json', 'print the result as JSON on stdout instead of one line');
  addWatershedOptions(cmd);
  addMaskFormatOption(cmd);
  cmd.action(async (npz: string, o: Record<string, unknown>) => {
    const tty = process.stderr.isTTY === true;
    const t0 = performance.now();
    const r = await postprocess({
      predictionsUri: npz, outDir: o.outDir as string, name: o.name as string,
      compartment: o.compartment as CompartmentSelection, maskFormat: maskFormatOf(o),
      ...watershedOverrides(o),
      onProgress: tty ? (f) => process.stderr.write(`\rpostprocess ${(f * 100).toFixed(0).padStart(3)}%`) : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
    const seconds = (performance.now() - t0) / 1000;
    if (o.json) {
      process.stdout.write(JSON.stringify({ ...r, seconds }, null, 2) + '\n');
    } else {
      const parts = [
        r.wholeCellMaskUri && `${r.wholeCellCount} cells -> ${r.wholeCellMaskUri}`,
        r.nucleusMaskUri && `${r.nucleusCount} nuclei -> ${r.nucleusMaskUri}`,
      ].filter(Boolean);
      process.stdout.write(`postprocess: ${r.width}×${r.height}, ${parts.join(', ')}, ${seconds.toFixed(2)} s\n`);
    }
  });
}
