import {
  ParentClosePolicy, condition, continueAsNew, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES, progressQuery, stageEventSignal } from './definitions';
import { childWorkflowId } from './child-id';
import { processImage } from './process-image';
import {
  STAGES, type DiscoveredImage, type ImageInput, type ImageResult, type RunInput, type RunProgress, type StageEvent, type RunSummary,
  type Stage, type StageCounts,
} from './types';

/** Full per-image results are kept (and returned) for runs up to this size; larger runs keep counts and failures. */
const FULL_RESULTS_LIMIT = 200;
/** Failures listed in progress and summary; past this they are only counted, so the carried state stays small. */
const FAILURES_LIMIT = 500;
/** Images fetched from the discovered list per activity call (the list itself lives in storage). */
const PAGE = 200;

/** State carried across continue-as-new so a run of any size keeps a bounded history and payloads. */
export interface RunCarry {
  startedAtMs: number;
  listUri: string;
  total: number;
  /** Index of the next image in the discovered list. */
  cursor: number;
  settingsHash: string;
  counts: { done: number; failed: number; skipped: number; cells: number };
  failures: RunProgress['failures'];
  results: ImageResult[];
  stageCounts: Record<Stage, StageCounts>;
  /** Seconds per stage summed over images (kept for runs of any size, unlike `results`). */
  stageTotals?: RunProgress['stageTotals'];
  /** Failures beyond {@link FAILURES_LIMIT}, counted but not listed (each is in its manifest and benchmark row). */
  failuresOmitted?: number;
}

const emptyCounts = (): Record<Stage, StageCounts> =>
  Object.fromEntries(STAGES.map((s) => [s, { done: 0, failed: 0, running: 0 }])) as Record<Stage, StageCounts>;

/**
 * A segment-and-measure run: discover images (the list is written to storage, claim-check style), then
 * one `processImage` child per image with at most `maxConcurrentImages` in flight (a sliding window),
 * then write the QuPath project and the run summary. After `childrenPerSegment` children, or when
 * Temporal suggests it, the window drains and the run continues as new with its counters, so ten
 * thousand images keep a bounded history.
 */
export async function segmentAndMeasure(input: RunInput, carry?: RunCarry): Promise<RunSummary> {
  const cpu = proxyActivities<Activities>({
    taskQueue: input.taskQueues.cpu, startToCloseTimeout: '30m', heartbeatTimeout: Math.max(30, input.heartbeatTimeoutS) * 1000,
    retry: { maximumAttempts: input.maxAttempts, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
  });
  const state: RunCarry = carry ?? {
    startedAtMs: Date.now(), listUri: '', total: 0, cursor: 0, settingsHash: '', counts: { done: 0, failed: 0, skipped: 0, cells: 0 },
    failures: [], results: [], stageCounts: emptyCounts(),
  };
  let phase: RunProgress['state'] = carry ? 'running' : 'discovering';
  let running = 0;

  const count = (ev: Pick<StageEvent, 'stage' | 'event'>) => {
    const counts = state.stageCounts[ev.stage];
    if (ev.event === 'started') counts.running++;
    else {
      counts.running = Math.max(0, counts.running - 1);
      if (ev.event === 'done') counts.done++;
      else counts.failed++;
    }
  };
  // Since stage events come from activities, a retried attempt sends its events again: each (image,
  // stage, event) counts once. Keys of images in flight only (dropped with the child's result; the
  // window drains before continue-as-new, so nothing needs carrying).
  const counted = new Map<string, Set<string>>(); // image name → `${stage} ${event}` counted
  const countOnce = (evs: StageEvent[]) => {
    for (const ev of evs) {
      let seen = counted.get(ev.name);
      if (!seen) counted.set(ev.name, (seen = new Set()));
      const key = `${ev.stage} ${ev.event}`;
      if (seen.has(key)) continue;
      seen.add(key);
      count(ev);
    }
  };
  setHandler(stageEventSignal, (evs) => countOnce(Array.isArray(evs) ? evs : [evs]));
  setHandler(progressQuery, () => progress());

  function progress(): RunProgress {
    const { done, failed, skipped, cells } = state.counts;
    const finished = done + failed;
    const elapsedMin = (Date.now() - state.startedAtMs) / 60000;
    const throughputPerMin = finished > 0 && elapsedMin > 0 ? finished / elapsedMin : undefined;
    const remaining = state.total - finished - skipped;
    return {
      runId: input.runId,
      state: phase,
      images: { total: state.total, done, failed, running, pending: Math.max(0, remaining - running), skipped },
      stages: state.stageCounts,
      failures: state.failures,
      failuresOmitted: state.failuresOmitted || undefined,
      stageTotals: state.stageTotals,
      cells,
      startedAtMs: state.startedAtMs,
      throughputPerMin,
      etaS: throughputPerMin && remaining > 0 ? (remaining / throughputPerMin) * 60 : undefined,
    };
  }

  const record = (r: ImageResult) => {
    if (r.events) countOnce(r.events);
    delete r.events;
    counted.delete(r.name);
    // Children since the batching patch report the record stage's end in their result, not by signal.
    if (r.record) count({ stage: 'record', event: r.record.status });
    if (r.status === 'done') {
      state.counts.done++;
      state.counts.cells += r.cells ?? 0;
    } else if (r.status === 'skipped') state.counts.skipped++;
    else {
      state.counts.failed++;
      if (state.failures.length < FAILURES_LIMIT) {
        state.failures.push({ name: r.name, imageUri: r.imageUri, stage: r.failedStage, error: r.error ?? 'unknown error', errorType: r.errorType });
      } else state.failuresOmitted = (state.failuresOmitted ?? 0) + 1;
    }
    for (const [stage, secs] of Object.entries(r.stageSeconds) as [Stage, number][]) {
      state.stageTotals ??= {};
      const t = (state.stageTotals[stage] ??= { seconds: 0, images: 0 });
      t.seconds += secs;
      t.images++;
    }
    if (state.total <= FULL_RESULTS_LIMIT) state.results.push(r);
  };

  if (!carry) {
    const found = await cpu.discoverImages({ locations: input.locations, imageFilter: input.imageFilter, settings: input.settings, runId: input.runId });
    state.listUri = found.listUri;
    state.total = found.total;
    state.settingsHash = found.settingsHash;
  }
  phase = 'running';

  const children: Promise<void>[] = [];
  const startChild = (image: DiscoveredImage, index: number) => {
    running++;
    const childInput: ImageInput = {
      runId: input.runId, image, outputs: outputsFor(input, image), segmasksDir: input.locations.segmasks,
      taskQueues: input.taskQueues, settings: input.settings, maxAttempts: input.maxAttempts,
      parentWorkflowId: workflowInfo().workflowId, settingsHash: state.settingsHash, fromStage: input.fromStage,
      jobsDir: input.locations.jobs, heartbeatTimeoutS: input.heartbeatTimeoutS, fuseStagesMaxPixels: input.fuseStagesMaxPixels,
    };
    children.push(executeChild(processImage, {
      args: [childInput],
      workflowId: childWorkflowId(input.runId, image.name, index, input.opaqueChildIds),
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    }).then(
      (r) => r,
      (err): ImageResult => {
        if (isCancellation(err)) throw err;
        return { name: image.name, imageUri: image.imageUri, status: 'failed', error: (err as Error).message, stageSeconds: {} };
      },
    ).then((r) => {
      running--;
      record(r);
    }));
  };

  try {
    let startedThisSegment = 0;
    let page: DiscoveredImage[] = [];
    while (state.cursor < state.total) {
      if (page.length === 0) page = await cpu.readImageList({ listUri: state.listUri, offset: state.cursor, limit: PAGE });
      const image = page.shift()!;
      state.cursor++;
      if (image.plan === 'done' && !input.force && !input.fromStage) {
        record({ name: image.name, imageUri: image.imageUri, status: 'skipped', stageSeconds: {} });
        continue;
      }
      await condition(() => running < input.maxConcurrentImages);
      if (startedThisSegment >= input.childrenPerSegment || workflowInfo().continueAsNewSuggested) {
        // Drain the window, then continue afresh from the cursor (this image included).
        await Promise.all(children);
        state.cursor--;
        await continueAsNew<typeof segmentAndMeasure>(input, { ...state, stageCounts: resetRunning(state.stageCounts) });
      }
      startChild(image, state.cursor - 1);
      startedThisSegment++;
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
  phase = state.total > 0 && state.counts.failed === state.total ? 'failed' : 'completed';
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
