import { type Command, Option } from 'commander';
import { ConfigError } from '../../core/errors';
import { CompartmentSelection, type DeepWatershedParams, MESMER_NUCLEAR_DEFAULTS, MESMER_WHOLE_CELL_DEFAULTS } from '../../core/postprocess/params';
import { postprocess } from '../../core/postprocess';

/** Each deep-watershed parameter as a flag: its kebab name, whether it is an integer, and what it does. */
const PARAMS: { key: keyof DeepWatershedParams; flag: string; int: boolean; what: string }[] = [
  { key: 'maximaThreshold', flag: 'maxima-threshold', int: false, what: 'h of h-maxima on the inner-distance map (> 0)' },
  { key: 'maximaSmooth', flag: 'maxima-smooth', int: false, what: 'gaussian σ on the inner-distance map, 0 = none' },
  { key: 'interiorThreshold', flag: 'interior-threshold', int: false, what: 'foreground = smoothed interior above this' },
  { key: 'interiorSmooth', flag: 'interior-smooth', int: false, what: 'gaussian σ on the interior map, 0 = none' },
  { key: 'smallObjectsThreshold', flag: 'small-objects-threshold', int: true, what: 'objects with fewer pixels are removed, 0 = keep all' },
  { key: 'fillHolesThreshold', flag: 'fill-holes-threshold', int: true, what: 'holes with fewer pixels inside a label are filled, 0 = none' },
  { key: 'radius', flag: 'radius', int: true, what: 'radius of the disk footprint of h-maxima' },
];

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function parseNumber(flag: string, int: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) throw new ConfigError(`--${flag}: expected ${int ? 'an integer' : 'a number'}, got '${v}'`);
    return n;
  };
}

export function register(program: Command): void {
  const cmd = program
    .command('postprocess <raw_predictions.npz>')
    .description('Deep watershed (Mesmer recipe, deepcell-toolbox semantics) on raw Mesmer predictions: writes int32 label masks ' +
      '<out-dir>/<name>_WholeCellMask.tiff and/or <out-dir>/<name>_NucleusMask.tiff atomically. Compartments run in parallel worker threads.\n\n' +
      'Parameter flags apply to every chosen compartment; --whole-cell-<param> and --nuclear-<param> override one compartment.\n' +
      `Mesmer defaults, whole-cell: ${describe(MESMER_WHOLE_CELL_DEFAULTS)}\n` +
      `Mesmer defaults, nuclear:    ${describe(MESMER_NUCLEAR_DEFAULTS)}`)
    .requiredOption('--out-dir <dir>', 'folder (local path or gs://) that receives the masks')
    .requiredOption('--name <name>', 'image name used in the mask file names')
    .addOption(new Option('--compartment <which>', 'compartments to segment').choices(CompartmentSelection.options).default('both'))
    .option('--json', 'print the result as JSON on stdout instead of one line');
  for (const p of PARAMS) cmd.option(`--${p.flag} <n>`, `${p.what} (default: Mesmer's, see above)`, parseNumber(p.flag, p.int));
  for (const prefix of ['whole-cell', 'nuclear']) {
    for (const p of PARAMS) cmd.addOption(new Option(`--${prefix}-${p.flag} <n>`, `${p.what}, ${prefix} only`).argParser(parseNumber(`${prefix}-${p.flag}`, p.int)).hideHelp());
  }
  cmd.addHelpText('after', '\nPer-compartment overrides (hidden above): --whole-cell-<param> <n>, --nuclear-<param> <n> for every parameter flag, ' +
    'e.g. --nuclear-maxima-threshold 0.12.');
  cmd.action(async (npz: string, o: Record<string, unknown>) => {
    const overrides = (prefix: string): Partial<DeepWatershedParams> => {
      const out: Partial<DeepWatershedParams> = {};
      for (const p of PARAMS) {
        const v = (o[camel(`${prefix}-${p.flag}`)] ?? o[camel(p.flag)]) as number | undefined;
        if (v !== undefined) out[p.key] = v;
      }
      return out;
    };
    const tty = process.stderr.isTTY === true;
    const t0 = performance.now();
    const r = await postprocess({
      predictionsUri: npz, outDir: o.outDir as string, name: o.name as string,
      compartment: o.compartment as CompartmentSelection,
      wholeCell: overrides('whole-cell'), nuclear: overrides('nuclear'),
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

function describe(p: DeepWatershedParams): string {
  return PARAMS.map((d) => `--${d.flag} ${p[d.key]}`).join(' ');
}
