import {
  ActivityFailure, ApplicationFailure, ParentClosePolicy, condition, continueAsNew, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import {
  BlockSchedule, NON_RETRYABLE_CODES, addMetrics, blockLabel, blockProgressQuery, blocksWorkflowId, imageStageOf, takeBlockResult, taskName,
  type BlockPlanResult, type BlockTask, type BlockTaskResult, type BlockTaskSettings, type BlocksCarry, type BlocksInput, type BlocksResult,
  type ImageInput, type ImageMetrics, type ImageResult, type PredictBlockResult, type Stage, type StageMetrics, type TesselActivities,
} from '../core/contracts';
import { StageEventQueue } from './stage-events';

/**
 * One blockwise image (issue 16): plan, then every block's tasks in the order `BlockSchedule` gives —
 * statistics, normalisation, model tiles (GPU queue), watershed and matching (CPU queue), stitch, masks,
 * measurements, reports — at most `maxInFlight` activities per queue at once, each retried on its own,
 * so a killed worker costs only the blocks it held. Only URIs and small results travel. After
 * `tasksPerSegment` activities (or when Temporal suggests it) the window drains and the workflow
 * continues as new with the schedule's state, so tens of thousands of blocks keep a bounded history.
 * A block that fails for good fails the image, naming the block.
 */
export async function processBlocks(input: BlocksInput, carry?: BlocksCarry): Promise<BlocksResult> {
  const { cpu, gpu } = activitiesFor(input);
  const events = new StageEventQueue(input.image.name, input.parentWorkflowId);
  let state: BlocksCarry;
  if (carry) {
    state = carry;
    events.addAll(carry.events);
  } else {
    events.addAll(input.events ?? []);
    events.add('predict', 'started', { blocksWorkflowId: workflowInfo().workflowId });
    const plan: BlockPlanResult = await cpu.planBlocks({
      imageUri: input.image.imageUri, blocksDir: input.blocksDir, channels: input.settings.channels, modelUri: input.settings.model.uri,
      blockSize: input.blockwise.blockSize, halo: input.blockwise.halo, tissueThreshold: input.blockwise.tissueThreshold, progress: events.take(),
    });
    state = { layout: plan.layout, schedule: { done: {}, globals: {} }, metrics: { predict: metricsOf(plan) }, events: [], started: ['predict'], ended: [] };
  }
  const schedule = new BlockSchedule(state.layout, true, state.schedule);
  setHandler(blockProgressQuery, () => ({ name: input.image.name, layout: state.layout, stages: schedule.progress(), blocks: state.blocks }));

  const limit = Math.max(1, input.blockwise.maxInFlight);
  const busy = { cpu: 0, gpu: 0 };
  let completions = 0;
  let startedThisSegment = 0;
  let failure: BlocksResult['failure'];

  const settings = (): BlockTaskSettings => ({
    postprocess: { wholeCell: input.settings.postprocess.wholeCell, nuclear: input.settings.postprocess.nuclear },
    outputs: {
      wholeCellMaskUri: input.outputs.wholeCellMaskUri, nucleusMaskUri: input.outputs.nucleusMaskUri,
      wholeCellBoxesUri: input.outputs.wholeCellBoxesUri, nucleusBoxesUri: input.outputs.nucleusBoxesUri, name: input.image.name,
    },
    measure: {
      imageUri: input.image.imageUri, imageName: input.image.name, geometry: input.outputs.geojsonUri !== undefined,
      legacyNames: input.settings.quantify.legacyNames, tsvUri: input.outputs.tsvUri, geojsonUri: input.outputs.geojsonUri,
    },
    stitched: state.stitched && { measuring: state.stitched.measuring, nuclei: state.stitched.nuclei },
  });
  const stageStarted = (s: Stage) => {
    if (state.started.includes(s)) return;
    state.started.push(s);
    events.add(s, 'started');
  };
  const accept = (task: BlockTask, r: BlockTaskResult | PredictBlockResult) => {
    const stage = imageStageOf(task);
    const { value, ...m } = r as BlockTaskResult;
    const total = state.metrics[stage] as (StageMetrics & { tiles?: number; modelLoadS?: number }) | undefined;
    state.metrics[stage] = task.stage === 'predict'
      ? addMetrics(total, m, { ...m, tiles: (total?.tiles ?? 0) + (r as PredictBlockResult).tiles, modelLoadS: (total?.modelLoadS ?? 0) + (r as PredictBlockResult).modelLoadS })
      : addMetrics(total, m);
    takeBlockResult(state, schedule, task, task.stage === 'predict' ? r : value);
  };
  const start = (task: BlockTask, queue: 'cpu' | 'gpu') => {
    busy[queue]++;
    startedThisSegment++;
    stageStarted(imageStageOf(task));
    const progress = events.take();
    const run = task.stage === 'predict' && 'block' in task
      ? gpu.predictBlock({ blocksDir: input.blocksDir, block: task.block, model: input.settings.model, levels: state.levels!, progress })
      : cpu.blockTask({ blocksDir: input.blocksDir, task, settings: settings(), progress });
    void run.then((r) => {
      try {
        accept(task, r);
        schedule.finish(task);
        stageEnds();
      } catch (e) {
        // A result the schedule cannot take (a bug, not a block's fault): fail the image rather than the workflow task.
        failure ??= { stage: imageStageOf(task), error: `${taskName(task)}: ${(e as Error).message}`, errorType: 'INVALID_CONFIG' };
      }
    }, (err) => {
      if (isCancellation(err)) return; // the workflow itself is being cancelled
      schedule.release(task);
      const cause = err instanceof ActivityFailure ? err.cause : err;
      let message = cause instanceof Error ? cause.message : String(cause);
      if ('block' in task && !message.startsWith('block ')) message = `block ${blockLabel(state.layout, task.block)}: ${message}`;
      failure ??= { stage: imageStageOf(task), error: message, errorType: cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined };
    }).finally(() => {
      busy[queue]--;
      completions++;
    });
  };
  const stageEnds = () => {
    const g = schedule.state.globals;
    const p = schedule.progress();
    const end = (s: Stage, when: boolean) => {
      if (!when || state.ended.includes(s)) return;
      state.ended.push(s);
      events.add(s, 'done', s === 'postprocess' ? { cells: state.stitched?.cells } : {});
    };
    end('predict', schedule.state.roles !== undefined && p.predict.done === p.predict.total && p.normalize.done === p.normalize.total);
    end('postprocess', g['masks:whole-cell'] === true && g['masks:nuclear'] === true);
    end('quantify', g.reports === true);
  };

  while (!schedule.finished && !failure) {
    const stopping = startedThisSegment >= input.blockwise.tasksPerSegment || workflowInfo().continueAsNewSuggested;
    if (!stopping) {
      for (const t of schedule.take('gpu', limit - busy.gpu)) start(t, 'gpu');
      for (const t of schedule.take('cpu', limit - busy.cpu)) start(t, 'cpu');
    }
    if (busy.cpu + busy.gpu === 0) {
      if (!stopping) throw ApplicationFailure.nonRetryable('blockwise schedule stalled: no block task could start', 'INVALID_CONFIG');
      // Nothing in flight: continue afresh from the schedule's state.
      await continueAsNew<typeof processBlocks>(input, { ...state, schedule: schedule.snapshot(), events: events.takeAll() });
    }
    const seen = completions;
    await condition(() => completions !== seen);
  }
  await condition(() => busy.cpu + busy.gpu === 0);
  const m = state.metrics;
  const report = state.report;
  const blocks = { total: state.layout.rows * state.layout.cols, ...(state.blocks ?? { tissue: 0, predictOnly: 0, skipped: 0 }) };
  const cells = state.stitched?.cells ?? 0;
  return {
    metrics: {
      predict: m.predict as BlocksResult['metrics']['predict'],
      postprocess: m.postprocess && { ...m.postprocess, cells, nuclei: state.stitched?.nuclei ?? 0 },
      quantify: m.quantify && report && { ...m.quantify, cells: report.cells, unpairedNuclei: report.unpairedNuclei, warnings: report.warnings },
    },
    cells, nuclei: state.stitched?.nuclei ?? 0, warnings: report?.warnings ?? [], blocks, events: events.takeAll(), failure,
  };
}

/**
 * What `processImage` runs for an image that convert found above the blockwise threshold: its blocks
 * workflow, whose stage metrics, counts and failure become the image's. Throws the failure (naming the
 * block) as the stage's, after `failedAt` learned the stage.
 */
export async function runBlockwiseImage(input: ImageInput, result: ImageResult, metrics: ImageMetrics, events: StageEventQueue, failedAt: (s: Stage) => void): Promise<void> {
  // Beside where the image's raw predictions would be: jobs/<run>/<name>/blocks.
  const blocksDir = input.outputs.predictionsUri.replace(/[^/]+$/, 'blocks');
  const outputs = {
    ...input.outputs, npzUri: '', predictionsUri: blocksDir,
    wholeCellBoxesUri: input.outputs.wholeCellMaskUri.replace(/Mask\.tiff$/, 'Boxes.npy'),
    nucleusBoxesUri: input.outputs.nucleusMaskUri.replace(/Mask\.tiff$/, 'Boxes.npy'),
  };
  failedAt('predict');
  const r = await executeChild(processBlocks, {
    args: [{
      runId: input.runId, image: input.image, outputs, blocksDir, settings: input.settings, blockwise: input.blockwise!,
      taskQueues: input.taskQueues, maxAttempts: input.maxAttempts, heartbeatTimeoutS: input.heartbeatTimeoutS,
      parentWorkflowId: input.parentWorkflowId, events: events.takeAll(),
    }],
    workflowId: blocksWorkflowId(workflowInfo().workflowId),
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
  events.addAll(r.events);
  Object.assign(metrics, r.metrics);
  for (const s of ['predict', 'postprocess', 'quantify'] as const) {
    const m = r.metrics[s];
    if (m) result.stageSeconds[s] = m.inputLoadS + m.timeS + m.outputWriteS;
  }
  Object.assign(result, { cells: r.cells, nuclei: r.nuclei, warnings: r.warnings, outputs });
  if (r.failure) {
    failedAt(r.failure.stage);
    throw ApplicationFailure.nonRetryable(r.failure.error, r.failure.errorType);
  }
}

function metricsOf(r: StageMetrics): StageMetrics {
  const { stage, startedAtMs, inputLoadS, timeS, outputWriteS, peakMemoryGb, queueWaitS, attempt, worker, instanceType, gpuType, numGpus, isPreemptible } = r;
  return { stage, startedAtMs, inputLoadS, timeS, outputWriteS, peakMemoryGb, queueWaitS, attempt, worker, instanceType, gpuType, numGpus, isPreemptible };
}

function activitiesFor(input: BlocksInput) {
  const options = (taskQueue: string) => proxyActivities<TesselActivities>({
    taskQueue,
    startToCloseTimeout: '4h',
    heartbeatTimeout: input.heartbeatTimeoutS * 1000,
    retry: { maximumAttempts: input.maxAttempts, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...NON_RETRYABLE_CODES] },
  });
  return { cpu: options(input.taskQueues.cpu), gpu: options(input.taskQueues.gpu) };
}
