import { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { matchObjects } from '../../core/eval/match';
import { readLabelMask } from '../../core/formats/image';
import { ensureReferenceModel } from '../../core/reference';
import { writeSyntheticWorkspace } from '../../core/synth';
import { REPO_ROOT } from '../../infra/temporal/dev-server';
import { closeDuckDbFiles } from '../../core/bench/duckdb';
import { openDashboardStore, writeDashboard } from '../../core/dashboard';
import { activeEnvConfig } from '../env-config';
import { buildRunInput, toInt, workspaceLocations } from '../run-input';
import { executeRun } from './run';

export function register(program: Command): void {
  program.command('demo')
    .description('The whole job end to end on the embedded default, no cloud: builds the reference model (first time),\n' +
      'writes synthetic multiplexed OME-TIFFs with ground truth into demo-workspace/, starts a Temporal dev server\n' +
      '(SQLite) and workers for all queues, runs segment-and-measure with progress, and prints a summary.')
    .option('--workspace <dir>', 'workspace folder', join(REPO_ROOT, 'demo-workspace'))
    .option('--images <n>', 'synthetic images', toInt, 3)
    .option('--size <px>', 'image width and height', toInt, 1024)
    .option('--channels <n>', 'channels per image (≥ 4)', toInt, 6)
    .option('--seed <n>', 'generator seed', toInt, 1)
    .option('--fresh', 'regenerate the synthetic images even if present')
    .option('--skip-done', 'keep images whose outputs are already complete (default: the demo redoes them)')
    .option('--json', 'print the final summary as JSON')
    .action(async (o: { workspace: string; images: number; size: number; channels: number; seed: number; fresh?: boolean; skipDone?: boolean; json?: boolean }) => {
      const root = resolve(o.workspace);
      const log = (m: string) => process.stderr.write(`[demo] ${m}\n`);
      log('reference model…');
      const model = await ensureReferenceModel({ onProgress: (m: string) => log(m) });
      const imagesDir = join(root, 'OMETIFF');
      const have = existsSync(imagesDir) ? readdirSync(imagesDir).filter((f) => /\.ome\.tiff?$/.test(f)).length : 0;
      if (o.fresh || have < o.images) {
        log(`writing ${o.images} synthetic ${o.size}×${o.size} images with ${o.channels} channels to ${imagesDir}`);
        await writeSyntheticWorkspace(root, { images: o.images, size: o.size, channels: o.channels, seed: o.seed });
      } else {
        log(`using the ${have} images already in ${imagesDir} (--fresh to regenerate)`);
      }
      log('starting the embedded Temporal dev server and workers…');
      const input = buildRunInput(workspaceLocations(root, {}), {
        imageFilter: [], model, combine: 'sum', compartment: 'both', batchSize: 8, device: 'cpu', maxConcurrent: 4,
        maxAttempts: 5, geojson: true, benchmarkSink: 'duckdb', force: !o.skipDone,
      });
      process.exitCode = await executeRun(input, { embedded: true, json: o.json, verbose: program.opts().verbose });
      if (!o.json) await reportAgainstTruth(root, log);
      await writeDemoDashboard(root, log);
    });
}

/** Object-level F1 (IoU > 0.5) of each image's masks against the generator's ground truth. */
async function reportAgainstTruth(root: string, log: (m: string) => void): Promise<void> {
  const truthDir = join(root, 'GROUND_TRUTH');
  if (!existsSync(truthDir)) return;
  log(`agreement with the ground truth in ${truthDir} (object F1 at IoU > 0.5):`);
  for (const f of readdirSync(truthDir).filter((n) => n.endsWith('Mask.tiff')).sort()) {
    const pred = join(root, 'SEGMASK', f);
    if (!existsSync(pred)) continue;
    const m = matchObjects((await readLabelMask(join(truthDir, f))).data, (await readLabelMask(pred)).data);
    log(`  ${f.replace(/\.tiff$/, '').padEnd(28)} F1 ${m.f1.toFixed(3)}  precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)}  mean IoU ${m.meanMatchedIoU.toFixed(3)}`);
  }
}

/** The benchmark dashboard of every run in the demo workspace, beside its rows. */
async function writeDemoDashboard(root: string, log: (m: string) => void): Promise<void> {
  // The run's workers (in this process) keep the DuckDB file a moment after the last row: release it now.
  closeDuckDbFiles();
  try {
    const { uri, data } = await writeDashboard(openDashboardStore({ workspace: root }), join(root, 'BENCHMARKS', 'dashboard.html'),
      { priceTable: activeEnvConfig()?.price_table });
    log(`benchmark dashboard (${data.runs.length} run(s), ${data.rows} row(s)): ${uri}`);
    log(`  open it in a browser; live while a run goes: npm run -s tessel -- dashboard ${root} --serve`);
  } catch (e) {
    log(`no dashboard: ${(e as Error).message}`);
  }
}
