import { Option, type Command } from 'commander';
import { ConfigError } from '../core/errors';
import { resolveParams } from '../core/postprocess';
import { MESMER_NUCLEAR_DEFAULTS, MESMER_WHOLE_CELL_DEFAULTS, type DeepWatershedParams } from '../core/postprocess/params';

/**
 * The deep-watershed flags, declared once for every command that runs the watershed (`postprocess`,
 * `segment`, `run`): each parameter for every compartment, and `--whole-cell-<param>` /
 * `--nuclear-<param>` for one. Flags only parse numbers; ranges are checked where the parameters are
 * used (`validateParams`), so every command accepts and refuses the same values.
 */
const PARAMS: { key: keyof DeepWatershedParams; flag: string; int: boolean; what: string }[] = [
  { key: 'maximaThreshold', flag: 'maxima-threshold', int: false, what: 'h of h-maxima on the inner-distance map (> 0)' },
  { key: 'maximaSmooth', flag: 'maxima-smooth', int: false, what: 'gaussian σ on the inner-distance map, 0 = none' },
  { key: 'interiorThreshold', flag: 'interior-threshold', int: false, what: 'foreground = smoothed interior above this' },
  { key: 'interiorSmooth', flag: 'interior-smooth', int: false, what: 'gaussian σ on the interior map, 0 = none' },
  { key: 'smallObjectsThreshold', flag: 'small-objects-threshold', int: true, what: 'objects with fewer pixels are removed, 0 = keep all' },
  { key: 'fillHolesThreshold', flag: 'fill-holes-threshold', int: true, what: 'holes with fewer pixels inside a label are filled, 0 = none' },
  { key: 'radius', flag: 'radius', int: true, what: 'radius of the disk footprint of h-maxima' },
];
const COMPARTMENTS = ['whole-cell', 'nuclear'] as const;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function parseNumber(flag: string, int: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) throw new ConfigError(`--${flag}: expected ${int ? 'an integer' : 'a number'}, got '${v}'`);
    return n;
  };
}

/** "--maxima-threshold 0.075 --maxima-smooth 0 …" for help texts. */
export function describeParams(p: DeepWatershedParams): string {
  return PARAMS.map((d) => `--${d.flag} ${p[d.key]}`).join(' ');
}

/** Mesmer's defaults, for a command's description. */
export const WATERSHED_DEFAULTS_HELP = `Mesmer defaults, whole-cell: ${describeParams(MESMER_WHOLE_CELL_DEFAULTS)}\n` +
  `Mesmer defaults, nuclear:    ${describeParams(MESMER_NUCLEAR_DEFAULTS)}`;

/** Adds the watershed flags to a command (per-compartment ones hidden from the option list, explained after it). */
export function addWatershedOptions(cmd: Command): Command {
  for (const p of PARAMS) cmd.option(`--${p.flag} <n>`, `${p.what} (default: Mesmer's)`, parseNumber(p.flag, p.int));
  for (const prefix of COMPARTMENTS) {
    for (const p of PARAMS) cmd.addOption(new Option(`--${prefix}-${p.flag} <n>`, `${p.what}, ${prefix} only`).argParser(parseNumber(`${prefix}-${p.flag}`, p.int)).hideHelp());
  }
  return cmd.addHelpText('after', '\nWatershed parameter flags apply to every compartment; --whole-cell-<param> <n> and --nuclear-<param> <n> ' +
    'override one (e.g. --nuclear-maxima-threshold 0.12).');
}

/**
 * The overrides a command's parsed options give each compartment (only the flags given), checked
 * against Mesmer's defaults at once, so a bad value fails before any work.
 * @throws ConfigError naming the failing parameter.
 */
export function watershedOverrides(o: Record<string, unknown>): { wholeCell: Partial<DeepWatershedParams>; nuclear: Partial<DeepWatershedParams> } {
  const of = (prefix: string): Partial<DeepWatershedParams> => {
    const out: Partial<DeepWatershedParams> = {};
    for (const p of PARAMS) {
      const v = (o[camel(`${prefix}-${p.flag}`)] ?? o[camel(p.flag)]) as number | undefined;
      if (v !== undefined) out[p.key] = v;
    }
    return out;
  };
  const overrides = { wholeCell: of('whole-cell'), nuclear: of('nuclear') };
  resolveParams('whole-cell', overrides.wholeCell);
  resolveParams('nuclear', overrides.nuclear);
  return overrides;
}
