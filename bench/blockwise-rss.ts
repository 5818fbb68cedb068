/**
 * One blockwise segment of a slide in this process (what `tessel segment --block-size` runs), with its
 * resident memory sampled every 100 ms and split by phase: the block work (statistics, normalisation,
 * model tiles, watershed, matching) and the masks (stitch, then the streaming mask writer). Prints
 * one JSON line. Used by `bench/blockwise.ts memory`.
 *
 *   npx tsx bench/blockwise-rss.ts <slide> <block-size> <out-dir>
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBlockwise } from '../core/blocks/run';
import { cachedCollection } from '../core/predict/model-cache';
import { ensureReferenceModel } from '../core/reference';

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

async function main() {
  const [slide, block, out] = process.argv.slice(2);
  const model = await cachedCollection(await ensureReferenceModel());
  const dir = mkdtempSync(join(tmpdir(), 'tessel-rss-'));
  let phase: 'blocks' | 'masks' = 'blocks';
  const peak = { blocks: 0, masks: 0 };
  const timer = setInterval(() => { peak[phase] = Math.max(peak[phase], rss()); }, 100);
  const t0 = performance.now();
  try {
    const r = await runBlockwise({
      inputUri: slide, blockSize: Number(block), halo: 96, model, dir,
      settings: { outputs: {
        wholeCellMaskUri: join(out, 's_WholeCellMask.tiff'), nucleusMaskUri: join(out, 's_NucleusMask.tiff'),
        wholeCellBoxesUri: join(out, 's_WholeCellBoxes.npy'), nucleusBoxesUri: join(out, 's_NucleusBoxes.npy'),
      } },
      onProgress: (p) => { if (p.globals.stitch) phase = 'masks'; },
    });
    clearInterval(timer);
    process.stdout.write(JSON.stringify({
      seconds: (performance.now() - t0) / 1000, peakBlocks: peak.blocks, peakMasks: peak.masks,
      maxRss: process.resourceUsage().maxRSS * 1024, cells: r.counts['whole-cell'], roles: r.roles,
    }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
