import type { Command } from 'commander';
import { ConfigError } from '../../core/errors';
import { writeSyntheticWorkspace } from '../../core/synth';
import { printJson } from '../output';

function int(what: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`${what} must be an integer ≥ ${min}, got '${value}'`);
    return n;
  };
}

export function register(program: Command): void {
  program.command('synth')
    .description('Write synthetic multiplexed tissue images with exact ground truth: ' +
      '<dir>/OMETIFF/<prefix>_NNN.ome.tiff (channels DAPI, Na-K-ATPase, PanCK, CD3, CD8, Ki67, …; µm/pixel in ' +
      'the OME-XML) and <dir>/GROUND_TRUTH/<prefix>_NNN_WholeCellMask.tiff and _NucleusMask.tiff (int32 labels; ' +
      'nucleus k belongs to cell k). With --cell-types also <prefix>_NNN_CellTypes.tsv: each cell\'s marker-defined ' +
      'type (CD3+, CD8+ = CD3+CD8+, PanCK+, other), keyed by its ground-truth label; the images are the same with or without it. ' +
      'Deterministic: image i uses seed K+i. Progress goes to stderr on a terminal.')
    .argument('<dir>', 'workspace root (local path or gs://bucket/prefix)')
    .option('--images <n>', 'number of images', int('--images', 1), 1)
    .option('--size <px>', 'width and height in pixels', int('--size', 16), 1024)
    .option('--channels <n>', 'channels per image (≥ 4)', int('--channels', 4), 6)
    .option('--seed <k>', 'seed of the first image', int('--seed', 0), 0)
    .option('--prefix <name>', 'image name prefix', 'tissue')
    .option('--um-per-pixel <x>', 'pixel size in µm (cells are 12–20 µm across)', (v: string) => {
      const x = Number(v);
      if (!(x > 0)) throw new ConfigError(`--um-per-pixel must be a positive number, got '${v}'`);
      return x;
    }, 0.5)
    .option('--cell-types', 'also write GROUND_TRUTH/<name>_CellTypes.tsv (label, type) for training and scoring cell classifiers')
    .option('--json', 'print the written images as JSON')
    .action(async (dir: string, o: { images: number; size: number; channels: number; seed: number; prefix: string; umPerPixel: number; cellTypes?: boolean; json?: boolean }) => {
      const tty = process.stderr.isTTY === true;
      const t0 = Date.now();
      const result = await writeSyntheticWorkspace(dir, {
        images: o.images, size: o.size, channels: o.channels, seed: o.seed, prefix: o.prefix, umPerPixel: o.umPerPixel, cellTypes: o.cellTypes,
        onImage: (done, total, name) => {
          if (tty) process.stderr.write(`\rsynth: ${done}/${total} images (${name})${done === total ? '\n' : ''}`);
        },
      });
      if (o.json) return printJson({ root: dir, ...result });
      const cells = result.images.reduce((s, i) => s + i.cells, 0);
      process.stdout.write(`wrote ${result.images.length} images (${cells} cells) to ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    });
}
