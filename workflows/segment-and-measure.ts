import {
  ParentClosePolicy, condition, continueAsNew, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES, progressQuery, stageEventSignal } from './definitions';
import { processImage } from './process-image';
import {
  STAGES, type DiscoveredImage, type ImageInput, type ImageResult, type ImageState, type RunInput, type RunProgress,
  type RunSummary, type Stage, type StageCounts,
} from './types';

/** State carried across continue-as-new so a run of any size keeps a bounded history. */
export interface RunCarry {
  startedAtMs: number;
  pending: DiscoveredImage[];
  results: ImageResult[];
  total: number;
  settingsHash: string;
  stageCounts: Record<Stage, StageCounts>;
}

const emptyCounts = (): Record<Stage, StageCounts> =>
  Object.fromEntries(STAGES.map((s) => [s, { done: 0, failed: 0, running: 0 }])) as Record<Stage, StageCounts>;

/**
 * A segment-and-measure run: discover images, then one `processImage` child per image with at most
 * `maxConcurrentImages` in flight (a sliding window), then write the QuPath project and the run summary.
 * Continues as new when the history grows large, carrying the remaining images and the results so far.
 */
export async function segmentAndMeasure(input: RunInput, carry?: RunCarry): Promise<RunSummary> {
  const cpu = proxyActivities<Activities>({
    taskQueue: input.taskQueues.cpu, startToCloseTimeout: '30m', heartbeatTimeout: Math.max(30, input.heartbeatTimeoutS) * 1000,
    retry: { maximumAttempts: input.maxAttempts, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
  });
  const state: RunCarry = carry ?? { startedAtMs: Date.now(), pending: [], results: [], total: 0, settingsHash: '', stageCounts: emptyCounts() };
  const imageState = new Map<string, { image: DiscoveredImage; state: ImageState; stage?: Stage }>();
  for (const r of state.results) imageState.set(r.name, { image: { name: r.name, imageUri: r.imageUri }, state: r.status });
  let phase: RunProgress['state'] = carry ? 'running' : 'discovering';

  setHandler(stageEventSignal, (ev) => {
    const counts = state.stageCounts[ev.stage];
    const entry = imageState.get(ev.name);
    if (ev.event === 'started') {
      counts.running++;
      if (entry) entry.stage = ev.stage;
    } else {
      counts.running = Math.max(0, counts.running - 1);
      if (ev.event === 'done') counts.done++;
      else counts.failed++;
    }
  });
  setHandler(progressQuery, () => progress());

  function progress(): RunProgress {
    const results = state.results;
    const done = results.filter((r) => r.status === 'done').length;
    const skipped = results.filter((r) => r.status === 'skipped').length;
    const failed = results.length - done - skipped;
    const running = [...imageState.values()].filter((e) => e.state === 'running').length;
    const finished = results.length - skipped;
    const elapsedMin = (Date.now() - state.startedAtMs) / 60000;
    const throughputPerMin = finished > 0 && elapsedMin > 0 ? finished / elapsedMin : undefined;
    const remaining = state.total - results.length;
    return {
      runId: input.runId,
      state: phase,
      images: { total: state.total, done, failed, running, pending: Math.max(0, remaining - running), skipped },
      stages: state.stageCounts,
      failures: results.filter((r) => r.status === 'failed').map((r) => ({
        name: r.name, imageUri: r.imageUri, stage: r.failedStage, error: r.error ?? 'unknown error', errorType: r.errorType,
      })),
      cells: results.reduce((a, r) => a + (r.cells ?? 0), 0),
      startedAtMs: state.startedAtMs,
      throughputPerMin,
      etaS: throughputPerMin && remaining > 0 ? (remaining / throughputPerMin) * 60 : undefined,
    };
  }

  if (!carry) {
    const found = await cpu.discoverImages({ locations: input.locations, imageFilter: input.imageFilter, settings: input.settings });
    state.settingsHash = found.settingsHash;
    state.total = found.images.length;
    for (const image of found.images) {
      if (image.plan === 'done' && !input.force && !input.fromStage) {
        state.results.push({ name: image.name, imageUri: image.imageUri, status: 'skipped', stageSeconds: {} });
        imageState.set(image.name, { image, state: 'skipped' });
      } else {
        state.pending.push(image);
      }
    }
  }
  for (const image of state.pending) imageState.set(image.name, { image, state: 'pending' });
  phase = 'running';

  let inFlight = 0;
  const children: Promise<void>[] = [];
  const startChild = (image: DiscoveredImage) => {
    const entry = imageState.get(image.name)!;
    entry.state = 'running';
    inFlight++;
    const childInput: ImageInput = {
      runId: input.runId, image, outputs: outputsFor(input, image), segmasksDir: input.locations.segmasks,
      taskQueues: input.taskQueues, settings: input.settings, maxAttempts: input.maxAttempts,
      parentWorkflowId: workflowInfo().workflowId, settingsHash: state.settingsHash, fromStage: input.fromStage,
      jobsDir: input.locations.jobs, heartbeatTimeoutS: input.heartbeatTimeoutS,
    };
    const p = executeChild(processImage, {
      args: [childInput],
      workflowId: `${input.runId}--${image.name}`,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    }).then(
      (r) => r,
      (err): ImageResult => {
        if (isCancellation(err)) throw err;
        return { name: image.name, imageUri: image.imageUri, status: 'failed', error: (err as Error).message, stageSeconds: {} };
      },
    ).then((r) => {
      state.results.push(r);
      entry.state = r.status;
      inFlight--;
    });
    children.push(p);
  };

  try {
    while (state.pending.length > 0) {
      await condition(() => inFlight < input.maxConcurrentImages);
      if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 20000) {
        // Drain the window, then start afresh with what is left.
        await Promise.all(children);
        await continueAsNew<typeof segmentAndMeasure>(input, { ...state, stageCounts: resetRunning(state.stageCounts) });
      }
      startChild(state.pending.shift()!);
    }
    await Promise.all(children);
  } catch (err) {
    if (isCancellation(err)) phase = 'cancelled';
    throw err;
  }

  phase = 'finalizing';
  const finalized = await cpu.finalizeRun({
    runId: input.runId, locations: input.locations, results: state.results, progress: { ...progress(), state: 'completed' },
  });
  phase = state.results.length > 0 && state.results.every((r) => r.status === 'failed') ? 'failed' : 'completed';
  return { ...progress(), results: state.results, projectUri: finalized.projectUri, summaryUri: finalized.summaryUri, finishedAtMs: Date.now() };
}

function resetRunning(c: Record<Stage, StageCounts>): Record<Stage, StageCounts> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, { ...v, running: 0 }])) as Record<Stage, StageCounts>;
}

/** Output URIs of one image (deepcell-imaging's workspace names). */
export function outputsFor(input: RunInput, image: DiscoveredImage) {
  const L = input.locations;
  const j = (a: string, b: string) => `${a.replace(/\/+$/, '')}/${b}`;
  return {
    npzUri: j(L.npz, `${image.name}.npz`),
    predictionsUri: j(j(L.jobs, input.runId), `${image.name}/raw_predictions.npz`),
    wholeCellMaskUri: j(L.segmasks, `${image.name}_WholeCellMask.tiff`),
    nucleusMaskUri: j(L.segmasks, `${image.name}_NucleusMask.tiff`),
    tsvUri: j(L.reports, `${image.name}_QUANT.tsv`),
    geojsonUri: input.settings.quantify.geojson ? j(L.reports, `${image.name}.geojson`) : undefined,
  };
}
