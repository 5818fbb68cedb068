import type { Command } from 'commander';
import { ConfigError } from '../../core/errors';
import { ALL_COMPARTMENTS, ALL_STATS } from '../../core/quantify/intensity';
import { quantify } from '../../core/quantify';
import { quantifyBlocks } from '../../core/blocks/quantify-run';
import { basename } from '../../core/storage';
import { addBlockOptions, blocksDir, type BlockCliOptions } from '../blockwise';

interface QuantifyCliOptions {
  image: string; wholeCellMask: string; nucleusMask: string; out: string; geojson?: string; project?: string;
  imageName?: string; legacyNames?: boolean; compartments?: string; stats?: string; json?: boolean;
}

/** `--block-size N`: measured block by block (see core/blocks/quantify-run.ts); no QuPath project entry. */
async function quantifyInBlocks(o: QuantifyCliOptions & BlockCliOptions, compartments?: string[], stats?: string[]) {
  if (o.project) throw new ConfigError('--project is not written with --block-size; add the image with a whole-image `tessel quantify --project` or a run');
  const scratch = await blocksDir(o);
  try {
    const tty = process.stderr.isTTY === true;
    const r = await quantifyBlocks({
      imageUri: o.image, wholeCellMaskUri: o.wholeCellMask, nucleusMaskUri: o.nucleusMask, tsvUri: o.out, geojsonUri: o.geojson,
      imageName: o.imageName ?? basename(o.image), legacyNames: !!o.legacyNames, compartments: compartments as never, stats: stats as never,
      blockSize: o.blockSize!, dir: scratch.dir, threads: o.blockThreads,
      onProgress: tty ? (d, t) => process.stderr.write(`\rquantify ${d}/${t} blocks`) : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
    return { ...r, tsvUri: o.out, geojsonUri: o.geojson, projectUri: undefined };
  } finally {
    await scratch.done();
  }
}

const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean));

export function register(program: Command): void {
  const cmd = program
    .command('quantify')
    .description('QuPath-style per-cell measurements (shapes + per-channel intensities) from whole-cell and nucleus masks, ' +
      'written as a QuPath >= 0.6 measurement table (TSV); optionally GeoJSON and a QuPath project entry.')
    .requiredOption('--image <uri>', 'OME-TIFF whose channels are measured (names and µm/pixel come from its OME-XML)')
    .requiredOption('--whole-cell-mask <uri>', 'int32 label mask of whole cells (0 = background): a TIFF, or an OME-Zarr label such as <name>.ome.zarr/labels/WholeCell; its labels become the Name column')
    .requiredOption('--nucleus-mask <uri>', 'int32 label mask of nuclei (TIFF or OME-Zarr label); nuclei are paired to cells (covered, else best overlap)')
    .requiredOption('--out <uri>', 'output TSV, e.g. REPORTS/<name>_QUANT.tsv (written atomically)')
    .option('--geojson <uri>', 'also write a GeoJSON FeatureCollection of cells (with nucleusGeometry) for QuPath import')
    .option('--project <uri>', 'also add the image to this QuPath project file, e.g. PROJ/project.qpproj (created if absent)')
    .option('--image-name <name>', 'value of the Image column and seed of the Object IDs (default: the image file name)')
    .option('--legacy-names', 'pre-0.6 QuPath column names ("CD3: Cell: Mean" instead of "Cell: CD3: Mean")', false)
    .option('--compartments <list>', `comma-separated subset of ${ALL_COMPARTMENTS.join(',')} (default: all)`)
    .option('--stats <list>', `comma-separated subset of ${ALL_STATS.join(',')} (default: all; std is the sample n-1 one)`)
    .option('--json', 'print the summary as JSON on stdout instead of one line');
  addBlockOptions(cmd, { segment: false })
    .action(async (o: QuantifyCliOptions & BlockCliOptions) => {
      const compartments = list(o.compartments);
      const stats = list(o.stats);
      for (const c of compartments ?? []) if (!(ALL_COMPARTMENTS as readonly string[]).includes(c)) throw new ConfigError(`--compartments: unknown '${c}'; expected ${ALL_COMPARTMENTS.join(', ')}`);
      for (const s of stats ?? []) if (!(ALL_STATS as readonly string[]).includes(s)) throw new ConfigError(`--stats: unknown '${s}'; expected ${ALL_STATS.join(', ')}`);
      const tty = process.stderr.isTTY === true;
      const t0 = performance.now();
      const r = o.blockSize !== undefined ? await quantifyInBlocks(o, compartments, stats) : await quantify({
        imageUri: o.image, wholeCellMaskUri: o.wholeCellMask, nucleusMaskUri: o.nucleusMask, outTsvUri: o.out,
        geojsonUri: o.geojson, projectUri: o.project, imageName: o.imageName, legacyNames: !!o.legacyNames, compartments, stats, inThread: true,
        onProgress: tty ? (f) => process.stderr.write(`\rquantify ${(f * 100).toFixed(0).padStart(3)}%`) : undefined,
      });
      if (tty) process.stderr.write('\r\x1b[K');
      const seconds = (performance.now() - t0) / 1000;
      for (const w of r.warnings) process.stderr.write(`tessel: warning: ${w}\n`);
      if (o.json) {
        process.stdout.write(JSON.stringify({ ...r, seconds }, null, 2) + '\n');
      } else {
        const cal = r.umPerPixel !== undefined ? `${r.umPerPixel} µm/px` : 'uncalibrated (px)';
        process.stdout.write(`quantify: ${r.cells} cells, ${r.unpairedNuclei} unpaired nuclei, ${r.cellsWithoutNucleus} cells without nucleus, ` +
          `${r.channels.length} channels, ${cal}, ${seconds.toFixed(2)} s -> ${r.tsvUri}\n`);
      }
    });
}
