import { join } from 'node:path';
import { isMainThread, parentPort } from 'node:worker_threads';
import type { BlockTask } from '../contracts/block-schedule';
import type { BlockTaskSettings } from '../contracts/blockwise';
import { runInWorker } from '../parallel/run-in-worker';
import { inBlock } from './grid';
import { firstPass, loadContext, reduceFirstPasses, reduceSecondPasses, secondPass } from './plan';
import { mergeBlockReports, quantifyBlockTask, type MeasureSettings } from './stage-quantify';
import { normalizeBlock } from './stage-predict';
import { matchBlock, stitchBlocks, watershedBlock, writeBlockMask } from './stage-segment';

/**
 * The CPU tasks of a blockwise image, by {@link BlockTask}: what both the standalone commands and the
 * Temporal activities run, on a worker thread (see {@link runCpuTask}), so the caller's event loop keeps
 * heartbeating. Everything a task needs is in the image's folder or in these settings.
 */
export type CpuTaskSettings = BlockTaskSettings;

/** Runs one CPU task in this thread. Progress (0…1) goes to `onProgress`, or to the parent thread. */
export async function cpuTask(dir: string, task: BlockTask, settings: CpuTaskSettings, onProgress?: (f: number) => void): Promise<unknown> {
  const progress = onProgress ?? ((f: number) => { if (!isMainThread) parentPort?.postMessage({ kind: 'progress', value: f }); });
  const ctx = await loadContext(dir);
  const out = settings.outputs;
  const measure = (): MeasureSettings => ({
    ...settings.measure!, wholeCellMaskUri: out!.wholeCellMaskUri, nucleusMaskUri: out!.nucleusMaskUri, nucleusBoxesUri: out!.nucleusBoxesUri,
  });
  switch (task.stage) {
    case 'first': return inBlock(ctx.plan.layout, task.block, () => firstPass(ctx, task.block));
    case 'reduceFirst': return reduceFirstPasses(ctx);
    case 'second': return inBlock(ctx.plan.layout, task.block, () => secondPass(ctx, task.block));
    case 'reduceSecond': return reduceSecondPasses(ctx);
    case 'normalize': return inBlock(ctx.plan.layout, task.block, () => normalizeBlock(ctx, task.block));
    case 'watershed': return inBlock(ctx.plan.layout, task.block, () => watershedBlock(ctx, task.block, settings.postprocess));
    case 'match': return inBlock(ctx.plan.layout, task.block, () => matchBlock(ctx, task.block));
    case 'stitch': return stitchBlocks(ctx, { boxesUri: { 'whole-cell': out!.wholeCellBoxesUri, nuclear: out!.nucleusBoxesUri } });
    case 'masks': return writeBlockMask(ctx, task.compartment, {
      uri: task.compartment === 'whole-cell' ? out!.wholeCellMaskUri : out!.nucleusMaskUri, format: out!.maskFormat, name: out!.name, onProgress: progress,
    });
    case 'quantify': return inBlock(ctx.plan.layout, task.block, () => quantifyBlockTask(ctx.files, task.block, measure()));
    case 'reports': return mergeBlockReports(ctx.files, settings.stitched!.measuring, measure(), {
      tsvUri: settings.measure!.tsvUri, geojsonUri: settings.measure!.geojsonUri, nuclei: settings.stitched!.nuclei,
    });
    case 'predict': throw new Error('predict runs on the GPU queue, not as a CPU task');
  }
}

/** {@link cpuTask} on a pooled worker thread. */
export function runCpuTask<R>(dir: string, task: BlockTask, settings: CpuTaskSettings, opts: { signal?: AbortSignal; onProgress?: (f: number) => void } = {}): Promise<R> {
  return runInWorker<R>(join(__dirname, 'worker-tasks'), 'cpuTask', [dir, task, settings], {
    signal: opts.signal, onMessage: (m) => opts.onProgress?.(m as number),
  });
}
