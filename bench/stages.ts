/**
 * Every standalone stage through the compiled CLI (`npm run build`, then `node bin/tessel.js …` — what
 * a deployed worker host runs), on one synthetic multiplexed image per size: wall time and peak RSS
 * (the process tree's largest process) in bytes per pixel, for the README's table.
 *
 *   npx tsx bench/stages.ts                        # 4096² and 8192², 8 channels, reference model
 *   npx tsx bench/stages.ts --sizes 2048 --keep /tmp/stages
 *
 * Per size: `tessel synth` writes the image (not timed), then `convert`, `predict`, `postprocess`,
 * `quantify` (on those masks) and `segment` (predict + postprocess in one process) run one after the
 * other. The reference model is built first if it is not cached (not timed).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildCompiledCli } from '../infra/build-cli';
import { arg, timed } from './timing';

const ROOT = resolve(__dirname, '..');
const sizes = arg('sizes', '4096,8192').split(',').map(Number);
const channels = Number(arg('channels', '8'));
const keep = process.argv.includes('--keep') ? resolve(arg('keep', '')) : undefined;

function main(): void {
  const cli = buildCompiledCli(join(ROOT, '.bench-out', 'cli-build'));
  const tessel = (...args: string[]) => timed([process.execPath, cli, ...args], ROOT);
  const work = keep ?? mkdtempSync(join(tmpdir(), 'tessel-bench-stages-'));
  mkdirSync(work, { recursive: true });
  process.stderr.write('reference model …\n');
  tessel('model', 'build-reference');
  const table: string[] = ['| stage | ' + sizes.map((s) => `${s}²: wall | peak RSS`).join(' | ') + ' |', '|---|' + sizes.map(() => '---:|---:').join('|') + '|'];
  const cells = new Map<string, string[]>();
  try {
    for (const size of sizes) {
      const dir = join(work, String(size));
      process.stderr.write(`${size}×${size}: synthetic image …\n`);
      tessel('synth', dir, '--size', String(size), '--channels', String(channels), '--prefix', 'img');
      const image = join(dir, 'OMETIFF', 'img_000.ome.tiff');
      const npz = join(dir, 'NPZ_INTERMEDIATE', 'img.npz');
      const raw = join(dir, 'raw_predictions.npz');
      const masks = join(dir, 'SEGMASK');
      const steps: [string, string[]][] = [
        ['convert', ['convert', image, '--out', npz]],
        ['predict', ['predict', npz, '--out', raw]],
        ['postprocess', ['postprocess', raw, '--out-dir', masks, '--name', 'img']],
        ['quantify', ['quantify', '--image', image, '--whole-cell-mask', join(masks, 'img_WholeCellMask.tiff'), '--nucleus-mask', join(masks, 'img_NucleusMask.tiff'), '--out', join(dir, 'REPORTS', 'img_QUANT.tsv')]],
        ['segment', ['segment', npz, '--out-dir', join(dir, 'SEGMENT'), '--name', 'img']],
      ];
      for (const [stage, args] of steps) {
        process.stderr.write(`${size}×${size}: ${stage} …\n`);
        const t = tessel(...args);
        const bpp = t.peakRssBytes / (size * size);
        const line = `${stage} ${size}²: ${t.seconds.toFixed(1)} s, peak RSS ${(t.peakRssBytes / 2 ** 20).toFixed(0)} MiB = ${bpp.toFixed(1)} B/px`;
        console.log(line);
        cells.set(stage, [...(cells.get(stage) ?? []), `${t.seconds.toFixed(1)} s`, `${bpp.toFixed(1)} B/px (${(t.peakRssBytes / 2 ** 30).toFixed(2)} GiB)`]);
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  for (const [stage, c] of cells) table.push(`| \`tessel ${stage}\` | ${c.join(' | ')} |`);
  console.log(`\n${channels}-channel uint16 synthetic tissue, reference model, compiled CLI:\n${table.join('\n')}`);
}

main();
