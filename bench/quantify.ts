/**
 * Quantification benchmark: `tessel quantify` as deployed (the compiled CLI, whole process) against the
 * MCQuant recipe in Python (scikit-image `regionprops_table` morphology once with MCQuant's columns,
 * plus the mean intensity per channel) on the same seeded synthetic image, alternating the two for
 * several rounds. Prints per round and as medians:
 *
 * - the compute-only ratio: the recipe's compute timed inside Python with the image and mask already
 *   in memory / Tessel's whole process (the comparison users make against the fastest way they know);
 * - the whole-process ratio: the recipe's whole process (tifffile read, compute, CSV out) / Tessel's;
 * - wall time, cells/s and peak RSS (bytes/pixel) of Tessel's process.
 *
 *   npx tsx bench/quantify.ts [--size 4096] [--cells 33000] [--channels 8] [--rounds 3] [--keep DIR] [--skip-recipe]
 *
 * --skip-recipe times only the compiled CLI (one round unless --rounds says otherwise).
 *
 * The memory check of a million cells × 40 channels (peak RSS, no reference: the recipe would take ~15 min):
 *   npx tsx bench/quantify.ts --size 8192 --cells 1000000 --channels 40 --skip-recipe
 *
 * Tessel computes far more (4 compartments × 5 statistics per channel, traced polygons) than the
 * recipe's single mean per channel.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildCompiledCli } from '../infra/build-cli';
import { arg, spread, timed } from './timing';
import { ensureBenchTools } from './tools';

const ROOT = resolve(__dirname, '..');

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
import sys, csv, json, time, numpy as np, tifffile
from skimage.measure import regionprops_table
d = sys.argv[1]
mask = tifffile.imread(d + '/wholecell.tiff')
img = tifffile.imread(d + '/image.ome.tiff')
t0 = time.perf_counter()  # compute only: image and mask in memory, until the columns exist
props = regionprops_table(mask, properties=('label', 'centroid', 'area', 'major_axis_length', 'minor_axis_length',
                                            'eccentricity', 'solidity', 'extent', 'orientation'))
cols = {'CellID': props['label']}
for c in range(img.shape[0]):
    cols['ch%d' % c] = regionprops_table(mask, intensity_image=img[c], properties=('label', 'mean_intensity'))['mean_intensity']
cols.update({'X_centroid': props['centroid-1'], 'Y_centroid': props['centroid-0'], 'Area': props['area'],
             'MajorAxisLength': props['major_axis_length'], 'MinorAxisLength': props['minor_axis_length'],
             'Eccentricity': props['eccentricity'], 'Solidity': props['solidity'], 'Extent': props['extent'],
             'Orientation': props['orientation']})
compute_s = time.perf_counter() - t0
with open(d + '/mcquant.csv', 'w', newline='') as f:
    w = csv.writer(f); w.writerow(cols.keys()); w.writerows(zip(*cols.values()))
print(json.dumps({'compute_s': compute_s}))
`;

let PY = '';

function main(): void {
  PY = ensureBenchTools({ reference: true });
  const size = Number(arg('size', '4096')), cells = Number(arg('cells', '33000')), nch = Number(arg('channels', '8'));
  const keep = process.argv.includes('--keep') ? arg('keep', '') : undefined;
  const skipRecipe = process.argv.includes('--skip-recipe');
  const rounds = Math.max(1, Number(arg('rounds', skipRecipe ? '1' : '3')));
  const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'tessel-bench-quant-'));
  mkdirSync(dir, { recursive: true });
  try {
    process.stderr.write(`generating ${size}×${size}, ${nch} channels, ~${cells} cells in ${dir} …\n`);
    const made = Number(execFileSync(PY, ['-c', MAKE, dir, String(size), String(cells), String(nch)], { encoding: 'utf8' }).trim());
    // As deployed: the compiled CLI (what `npm run build` makes), built here into .bench-out/.
    const compiled = buildCompiledCli(join(ROOT, '.bench-out', 'cli-build'));
    const tesselArgs = ['quantify', '--image', join(dir, 'image.ome.tiff'), '--whole-cell-mask', join(dir, 'wholecell.tiff'),
      '--nucleus-mask', join(dir, 'nucleus.tiff'), '--out', join(dir, 'image_QUANT.tsv')];
    const pixels = size * size;
    const rows: { tessel: number; rss: number; refCompute?: number; refWhole?: number; summary: string }[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate: a slow moment of a shared machine then falls on both sides.
      let refCompute: number | undefined, refWhole: number | undefined;
      if (!skipRecipe) {
        const ref = timed([PY, '-c', MCQUANT_RECIPE, dir], ROOT);
        refCompute = (JSON.parse(ref.stdout) as { compute_s: number }).compute_s;
        refWhole = ref.seconds;
      }
      const t = timed([process.execPath, compiled, ...tesselArgs], ROOT);
      rows.push({ tessel: t.seconds, rss: t.peakRssBytes, refCompute, refWhole, summary: t.stdout.trim() });
      console.log(`round ${r + 1}: tessel ${t.seconds.toFixed(2)} s, ${Math.round(made / t.seconds)} cells/s, peak ${(t.peakRssBytes / pixels).toFixed(1)} B/px` +
        (skipRecipe ? '' : `; MCQuant recipe ${refCompute!.toFixed(2)} s compute, ${refWhole!.toFixed(2)} s whole process → ${(refCompute! / t.seconds).toFixed(2)}× / ${(refWhole! / t.seconds).toFixed(2)}×`));
    }
    console.log(`\nimage ${size}×${size}, ${nch} channels uint16, ${made} cells, ${rounds} round(s), medians (range):`);
    console.log(`tessel quantify, compiled CLI, whole process (all columns): ${spread(rows.map((x) => x.tessel))}, ` +
      `peak RSS ${spread(rows.map((x) => x.rss / pixels), 1, ' B/px')} (${spread(rows.map((x) => x.rss / 2 ** 20), 0, ' MiB')})`);
    if (!skipRecipe) {
      console.log(`MCQuant recipe compute only (image and mask in memory):   ${spread(rows.map((x) => x.refCompute!))}`);
      console.log(`MCQuant recipe whole process (tifffile read, CSV out):    ${spread(rows.map((x) => x.refWhole!))}`);
      console.log(`ratio, compute only (recipe compute / tessel process):    ${spread(rows.map((x) => x.refCompute! / x.tessel), 2, '×')}  (goal ≥ 6×)`);
      console.log(`ratio, whole process (recipe process / tessel process):   ${spread(rows.map((x) => x.refWhole! / x.tessel), 2, '×')}`);
    }
    console.log(`tessel: ${rows[rows.length - 1].summary}`);
    console.log('(figures from this machine, in this run; on a shared machine rerun and compare the ratios, not the seconds)');
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

main();
