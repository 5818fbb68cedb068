import {
  ParentClosePolicy, condition, continueAsNew, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import {
  NON_RETRYABLE_CODES, imageWorkflowId, outputsFor, progressQuery, stageEventSignal, type DiscoveredImage, type ImageResult,
  type RunInput, type RunSummary, type TesselActivities,
} from '../core/contracts';
import { processImage } from './process-image';
import { RunState, type RunCarry } from './run-state';

export type { RunCarry } from './run-state';

/** Images fetched from the discovered list per activity call (the list itself lives in storage). */
const PAGE = 200;

/**
 * A segment-and-measure run: discover images (the list is written to storage, claim-check style), then
 * one `processImage` child per image with at most `maxConcurrentImages` in flight (a sliding window),
 * then write the QuPath project and the run summary. After `childrenPerSegment` children, or when
 * Temporal suggests it, the window drains and the run continues as new with its counters, so ten
 * thousand images keep a bounded history.
 */
export async function segmentAndMeasure(input: RunInput, carry?: RunCarry): Promise<RunSummary> {
  const cpu = proxyActivities<TesselActivities>({
    taskQueue: input.taskQueues.cpu, startToCloseTimeout: '30m', heartbeatTimeout: Math.max(30, input.heartbeatTimeoutS) * 1000,
    retry: { maximumAttempts: input.maxAttempts, nonRetryableErrorTypes: [...NON_RETRYABLE_CODES] },
  });
  const run = carry ? new RunState(input.runId, carry) : RunState.start(input.runId, Date.now());
  setHandler(stageEventSignal, (events) => run.countEvents(events));
  setHandler(progressQuery, () => run.progress(Date.now()));

  if (!carry) {
    run.discovered(await cpu.discover({ locations: input.locations, imageFilter: input.imageFilter, settings: input.settings, runId: input.runId }));
  }
  const state = run.carry;
  const children: Promise<void>[] = [];
  try {
    let startedThisSegment = 0;
    let page: DiscoveredImage[] = [];
    while (state.cursor < state.total) {
      if (page.length === 0) page = await cpu.readImageList({ listUri: state.listUri, offset: state.cursor, limit: PAGE });
      const image = page.shift()!;
      state.cursor++;
      if (image.plan === 'done' && !input.force && !input.fromStage) {
        run.addResult({ name: image.name, imageUri: image.imageUri, status: 'skipped', stageSeconds: {} });
        continue;
      }
      await condition(() => run.running < input.maxConcurrentImages);
      if (startedThisSegment >= input.childrenPerSegment || workflowInfo().continueAsNewSuggested) {
        // Drain the window, then continue afresh from the cursor (this image included).
        await Promise.all(children);
        state.cursor--;
        await continueAsNew<typeof segmentAndMeasure>(input, run.carryForward());
      }
      run.running++;
      children.push(processChild(input, state.settingsHash, image, state.cursor - 1).then((r) => {
        run.running--;
        run.addResult(r);
      }));
      startedThisSegment++;
    }
    await Promise.all(children);
  } catch (err) {
    if (isCancellation(err)) run.phase = 'cancelled';
    throw err;
  }

  run.phase = 'finalizing';
  const finalized = await cpu.finalize({
    runId: input.runId, locations: input.locations, results: state.results, progress: { ...run.progress(Date.now()), state: 'completed' },
  });
  run.finish();
  return { ...run.progress(Date.now()), results: state.results, projectUri: finalized.projectUri, summaryUri: finalized.summaryUri, finishedAtMs: Date.now() };
}

/** One image's workflow; a child that fails outright (not a stage failure) still gives a failed result. */
async function processChild(input: RunInput, settingsHash: string, image: DiscoveredImage, index: number): Promise<ImageResult> {
  try {
    return await executeChild(processImage, {
      args: [{
        runId: input.runId, image, outputs: outputsFor(input, image.name), segmasksDir: input.locations.segmasks,
        taskQueues: input.taskQueues, settings: input.settings, maxAttempts: input.maxAttempts,
        parentWorkflowId: workflowInfo().workflowId, settingsHash, fromStage: input.fromStage,
        jobsDir: input.locations.jobs, heartbeatTimeoutS: input.heartbeatTimeoutS, fusedMaxPixels: input.fusedMaxPixels,
        blockwise: input.blockwise,
      }],
      workflowId: imageWorkflowId(input.runId, image.name, index, input.opaqueChildIds),
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { name: image.name, imageUri: image.imageUri, status: 'failed', error: (err as Error).message, stageSeconds: {} };
  }
}
