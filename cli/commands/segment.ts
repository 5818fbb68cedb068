import { type Command, Option } from 'commander';
import { ConfigError } from '../../core/errors';
import { CompartmentSelection, type DeepWatershedParams } from '../../core/postprocess/params';
import { postprocess } from '../../core/postprocess';
import { joinUri } from '../../core/storage';
import { addPredictOptions, type PredictCliOptions, runPredict } from './predict';

/** Deep-watershed flags (the same names as `tessel postprocess`). */
const PARAMS: { key: keyof DeepWatershedParams; flag: string; int: boolean; what: string }[] = [
  { key: 'maximaThreshold', flag: 'maxima-threshold', int: false, what: 'h of h-maxima on the inner-distance map' },
  { key: 'maximaSmooth', flag: 'maxima-smooth', int: false, what: 'gaussian σ on the inner-distance map, 0 = none' },
  { key: 'interiorThreshold', flag: 'interior-threshold', int: false, what: 'foreground = smoothed interior above this' },
  { key: 'interiorSmooth', flag: 'interior-smooth', int: false, what: 'gaussian σ on the interior map, 0 = none' },
  { key: 'smallObjectsThreshold', flag: 'small-objects-threshold', int: true, what: 'objects with fewer pixels are removed' },
  { key: 'fillHolesThreshold', flag: 'fill-holes-threshold', int: true, what: 'holes with fewer pixels inside a label are filled' },
  { key: 'radius', flag: 'radius', int: true, what: 'radius of the h-maxima disk footprint' },
];

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function number(flag: string, int: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (int && !Number.isInteger(n))) throw new ConfigError(`--${flag}: expected a non-negative ${int ? 'integer' : 'number'}, got '${v}'`);
    return n;
  };
}

export function register(program: Command): void {
  const cmd = program
    .command('segment <npz>')
    .description('Predict then postprocess in one go, without Temporal: Mesmer inference on the NPZ intermediate (see `tessel predict`), ' +
      'then deep watershed (see `tessel postprocess`). Writes <out-dir>/<name>_raw_predictions.npz (or --predictions), ' +
      '<out-dir>/<name>_WholeCellMask.tiff and <out-dir>/<name>_NucleusMask.tiff.')
    .requiredOption('--out-dir <dir>', 'folder (local path or gs://) for the masks and predictions')
    .requiredOption('--name <name>', 'image name used in the output file names')
    .addOption(new Option('--compartment <which>', 'compartments to segment').choices(CompartmentSelection.options).default('both'))
    .option('--predictions <npz>', 'where the raw predictions go (default: <out-dir>/<name>_raw_predictions.npz)')
    .option('--json', 'print the result as JSON on stdout');
  addPredictOptions(cmd);
  for (const p of PARAMS) cmd.option(`--${p.flag} <n>`, `${p.what} (default: Mesmer's, see tessel postprocess --help)`, number(p.flag, p.int));
  cmd.action(async (npz: string, o: PredictCliOptions & Record<string, unknown>) => {
    const outDir = o.outDir as string;
    const name = o.name as string;
    const predictionsUri = (o.predictions as string | undefined) ?? joinUri(outDir, `${name}_raw_predictions.npz`);
    const t0 = performance.now();
    const p = await runPredict(npz, predictionsUri, o);
    const overrides: Partial<DeepWatershedParams> = {};
    for (const d of PARAMS) {
      const v = o[camel(d.flag)] as number | undefined;
      if (v !== undefined) overrides[d.key] = v;
    }
    const tty = process.stderr.isTTY === true;
    const t1 = performance.now();
    const m = await postprocess({
      predictionsUri, outDir, name, compartment: o.compartment as CompartmentSelection, wholeCell: overrides, nuclear: overrides,
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
