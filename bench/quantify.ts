/**
 * Quantification benchmark: `tessel quantify` (whole process, spawned, from the compiled CLI as
 * deployed; also from sources through tsx, for reference) against the MCQuant recipe in
 * Python (tifffile read, scikit-image `regionprops_table` morphology once with MCQuant's columns, plus
 * the mean intensity per channel, CSV out), on the same seeded synthetic image, timed in the same run.
 *
 *   npx tsx bench/quantify.ts [--size 4096] [--cells 33000] [--channels 8] [--keep DIR] [--skip-recipe]
 *
 * --skip-recipe times only the compiled CLI (no tsx run, no MCQuant recipe).
 *
 * The memory check of a million cells × 40 channels (peak RSS, no reference: the recipe would take ~15 min):
 *   npx tsx bench/quantify.ts --size 8192 --cells 1000000 --channels 40 --skip-recipe
 *
 * Prints wall time, cells/s and peak RSS (ru_maxrss of the process tree's largest process) for both,
 * and the speed ratio (goal ≥ 5×). Tessel computes far more (4 compartments × 5 statistics per
 * channel, traced polygons) than the recipe's single mean per channel.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildCompiledCli } from '../infra/build-cli';
import { ensureBenchTools } from './tools';

const ROOT = resolve(__dirname, '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const MAKE = `
import sys, numpy as np, tifffile
from scipy import ndimage as ndi
out, size, cells, nch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(7)
seeds = np.zeros((size, size), bool)
seeds[rng.integers(0, size, cells), rng.integers(0, size, cells)] = True
dist, (iy, ix) = ndi.distance_transform_edt(~seeds, return_indices=True)
lab = np.zeros((size, size), np.int32)
lab[seeds] = np.arange(1, seeds.sum() + 1, dtype=np.int32)
nearest = lab[iy, ix]
spacing = size / np.sqrt(cells)
noise = ndi.zoom(rng.normal(size=(size // 16, size // 16)), 16, order=1)
cell = np.where(dist < spacing * 0.55 * (1 + 0.2 * noise), nearest, 0).astype(np.int32)
nuc = np.where(dist < spacing * 0.22, nearest, 0).astype(np.int32)
chans = np.stack([(rng.integers(0, 4000, (size, size)) + (nearest * (97 * (c + 1)) % 20000)).astype(np.uint16) for c in range(nch)])
tifffile.imwrite(out + '/image.ome.tiff', chans, ome=True, photometric='minisblack', tile=(512, 512),
    metadata={'axes': 'CYX', 'Channel': {'Name': ['ch%d' % c for c in range(nch)]}, 'PhysicalSizeX': 0.5, 'PhysicalSizeY': 0.5})
tifffile.imwrite(out + '/wholecell.tiff', cell, tile=(512, 512), compression='zlib')
tifffile.imwrite(out + '/nucleus.tiff', nuc, tile=(512, 512), compression='zlib')
print(len(np.unique(cell)) - 1)
`;

const MCQUANT_RECIPE = `
import sys, csv, numpy as np, tifffile
from skimage.measure import regionprops_table
d = sys.argv[1]
mask = tifffile.imread(d + '/wholecell.tiff')
img = tifffile.imread(d + '/image.ome.tiff')
props = regionprops_table(mask, properties=('label', 'centroid', 'area', 'major_axis_length', 'minor_axis_length',
                                            'eccentricity', 'solidity', 'extent', 'orientation'))
cols = {'CellID': props['label']}
for c in range(img.shape[0]):
    cols['ch%d' % c] = regionprops_table(mask, intensity_image=img[c], properties=('label', 'mean_intensity'))['mean_intensity']
cols.update({'X_centroid': props['centroid-1'], 'Y_centroid': props['centroid-0'], 'Area': props['area'],
             'MajorAxisLength': props['major_axis_length'], 'MinorAxisLength': props['minor_axis_length'],
             'Eccentricity': props['eccentricity'], 'Solidity': props['solidity'], 'Extent': props['extent'],
             'Orientation': props['orientation']})
with open(d + '/mcquant.csv', 'w', newline='') as f:
    w = csv.writer(f); w.writerow(cols.keys()); w.writerows(zip(*cols.values()))
`;

/** Runs a command under a Python wrapper that reports wall seconds and the children's peak RSS. */
function timed(cmd: string[], cwd: string): { seconds: number; peakRssMb: number; stdout: string } {
  const wrapper = `
import subprocess, resource, sys, time, json
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
dt = time.perf_counter() - t
if p.returncode != 0:
    sys.stderr.write(p.stderr); sys.exit(p.returncode)
print(json.dumps({'seconds': dt, 'peakRssMb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 'stdout': p.stdout}))
`;
  return JSON.parse(execFileSync(PY, ['-c', wrapper, ...cmd], { cwd, encoding: 'utf8', maxBuffer: 1 << 26 }));
}

/**
 * The `tessel` entry (cli/main.ts). If the full CLI does not load (another command mid-development),
 * fall back to an entry that registers only `quantify`, and say so.
 */
function cliEntry(dir: string): string {
  const main = join(ROOT, 'cli', 'main.ts');
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [main, 'quantify', '--help'], { stdio: 'pipe' });
    return main;
  } catch {
    const entry = join(dir, 'quantify-only.ts');
    writeFileSync(entry, `import { Command } from ${JSON.stringify(require.resolve('commander'))};
import { register } from ${JSON.stringify(join(ROOT, 'cli', 'commands', 'quantify'))};
const p = new Command('tessel'); register(p);
p.parseAsync(process.argv).catch((e) => { console.error('tessel: ' + e.message); process.exit(1); });
`);
    process.stderr.write('note: cli/main.ts does not load right now; timing a quantify-only entry instead\n');
    return entry;
  }
}

let PY = '';

function main(): void {
  PY = ensureBenchTools({ reference: true });
  const size = Number(arg('size', '4096')), cells = Number(arg('cells', '33000')), nch = Number(arg('channels', '8'));
  const keep = process.argv.includes('--keep') ? arg('keep', '') : undefined;
  const skipRecipe = process.argv.includes('--skip-recipe');
  const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'tessel-bench-quant-'));
  mkdirSync(dir, { recursive: true });
  try {
    process.stderr.write(`generating ${size}×${size}, ${nch} channels, ~${cells} cells in ${dir} …\n`);
    const made = Number(execFileSync(PY, ['-c', MAKE, dir, String(size), String(cells), String(nch)], { encoding: 'utf8' }).trim());
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    // As deployed: the compiled CLI (what `npm run build` makes), built here into .bench-out/.
    const compiled = buildCompiledCli(join(ROOT, '.bench-out', 'cli-build'));
    const tesselArgs = ['quantify', '--image', join(dir, 'image.ome.tiff'), '--whole-cell-mask', join(dir, 'wholecell.tiff'),
      '--nucleus-mask', join(dir, 'nucleus.tiff'), '--out', join(dir, 'image_QUANT.tsv')];
    const tessel = timed([process.execPath, compiled, ...tesselArgs], ROOT);
    const fromSources = skipRecipe ? undefined : timed([tsx, cliEntry(dir), ...tesselArgs], ROOT);
    const row = (name: string, r: { seconds: number; peakRssMb: number }) =>
      `${name.padEnd(34)} ${r.seconds.toFixed(2).padStart(7)} s  ${Math.round(made / r.seconds).toString().padStart(8)} cells/s  peak RSS ${Math.round(r.peakRssMb)} MB`;
    console.log(`image ${size}×${size}, ${nch} channels uint16, ${made} cells`);
    console.log(row('tessel quantify (all columns)', tessel));
    if (fromSources) console.log(row('  same, from sources through tsx', fromSources));
    if (!skipRecipe) {
      const mcquant = timed([PY, '-c', MCQUANT_RECIPE, dir], ROOT);
      console.log(row('MCQuant recipe (skimage, means)', mcquant));
      console.log(`speed-up vs MCQuant recipe: ${(mcquant.seconds / tessel.seconds).toFixed(2)}× (goal ≥ 5×)`);
    }
    console.log(`tessel: ${tessel.stdout.trim()}`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

main();
