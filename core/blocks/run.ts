import { availableParallelism } from 'node:os';
import { BlockSchedule, type BlockProgress, type BlockTask } from '../contracts/block-schedule';
import { takeBlockResult, type BlockTotals } from '../contracts/blockwise';
import type { InferenceDevice, InferenceModel } from '../predict/session';
import type { Compartment } from '../postprocess/params';
import { inBlock, type BlockLayout } from './grid';
import { loadContext, planBlocks, type BlockPlan } from './plan';
import { checkBlockwiseModel } from './predict';
import type { ImageReport } from './stage-quantify';
import { predictBlock } from './stage-predict';
import { runCpuTask, type CpuTaskSettings } from './worker-tasks';

/**
 * A blockwise image without Temporal: the same tasks, in the same order ({@link BlockSchedule}), CPU
 * tasks on a pool of worker threads and model tiles on the model's session thread, at the same time.
 */
export interface BlockwiseOptions {
  inputUri: string;
  channels?: BlockPlan['channels'];
  blockSize: number;
  halo: number;
  tissueThreshold?: number;
  model: InferenceModel;
  batchSize?: number;
  device?: InferenceDevice;
  cpuThreads?: number;
  /** Folder for the intermediates (kept; a temporary one is the caller's to remove). */
  dir: string;
  settings: CpuTaskSettings & { outputs: NonNullable<CpuTaskSettings['outputs']> };
  /** CPU tasks at once. @default the machine's cores */
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (p: BlockProgress) => void;
}

export interface BlockwiseOutcome {
  plan: BlockPlan;
  layout: BlockLayout;
  counts: Record<Compartment, number>;
  roles: { tissue: number; predictOnly: number; skipped: number };
  tiles: number;
  report?: ImageReport;
  progress: BlockProgress;
  seconds: Partial<Record<BlockTask['stage'], number>>;
}

export async function runBlockwise(opts: BlockwiseOptions): Promise<BlockwiseOutcome> {
  const md = opts.model.metadata;
  const plan = await planBlocks({
    inputUri: opts.inputUri, channels: opts.channels, blockSize: opts.blockSize, halo: opts.halo, tissueThreshold: opts.tissueThreshold, dir: opts.dir,
    model: { tileSize: md.tileSize, strideRatio: md.strideRatio, clipPercentile: md.normalization.clipPercentile, kernelSize: md.normalization.kernelSize },
  });
  checkBlockwiseModel(opts.model, plan.inputUri, plan.umPerPixel);
  const schedule = new BlockSchedule(plan.layout, opts.settings.measure !== undefined);
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const settings: CpuTaskSettings = { ...opts.settings };
  const outcome: BlockwiseOutcome = {
    plan, layout: plan.layout, counts: { 'whole-cell': 0, nuclear: 0 }, roles: { tissue: 0, predictOnly: 0, skipped: 0 }, tiles: 0,
    progress: schedule.progress(), seconds: {},
  };
  let cpuBusy = 0, gpuBusy = 0;
  let failure: unknown;
  const running = new Set<Promise<void>>();

  const totals: BlockTotals = {};
  const accept = (task: BlockTask, result: unknown) => {
    takeBlockResult(totals, schedule, task, result);
    if (task.stage === 'stitch') settings.stitched = { measuring: totals.stitched!.measuring, nuclei: totals.stitched!.nuclei };
    if (task.stage === 'reports') outcome.report = result as ImageReport;
  };
  const predict = async (block: number) => {
    const c = await loadContext(opts.dir); // read again: the roles came after the plan
    return inBlock(c.plan.layout, block, () => predictBlock(c, block, {
      model: opts.model, levels: totals.levels!, batchSize: opts.batchSize, device: opts.device, cpuThreads: opts.cpuThreads, signal: opts.signal,
    }));
  };
  const start = (task: BlockTask, gpu: boolean) => {
    if (gpu) gpuBusy++; else cpuBusy++;
    const t0 = performance.now();
    const work = gpu && 'block' in task ? predict(task.block) : runCpuTask(opts.dir, task, settings, { signal: opts.signal });
    const p: Promise<void> = work.then((result) => {
      accept(task, result);
      schedule.finish(task);
      outcome.seconds[task.stage] = (outcome.seconds[task.stage] ?? 0) + (performance.now() - t0) / 1000;
      opts.onProgress?.(schedule.progress());
    }, (e) => { failure ??= e; }).finally(() => {
      if (gpu) gpuBusy--; else cpuBusy--;
      running.delete(p);
    });
    running.add(p);
  };

  while (!schedule.finished && failure === undefined) {
    opts.signal?.throwIfAborted();
    for (const t of schedule.take('gpu', 1 - gpuBusy)) start(t, true);
    for (const t of schedule.take('cpu', threads - cpuBusy)) start(t, false);
    if (running.size === 0) break;
    await Promise.race(running);
  }
  await Promise.allSettled([...running]);
  if (failure !== undefined) throw failure;
  if (!schedule.finished) throw new Error('blockwise schedule stalled: no task could start (a bug)');
  outcome.progress = schedule.progress();
  outcome.roles = totals.blocks!;
  outcome.tiles = totals.tiles ?? 0;
  outcome.counts = { 'whole-cell': totals.stitched!.cells, nuclear: totals.stitched!.nuclei };
  return outcome;
}
