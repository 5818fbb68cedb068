import {
  ActivityFailure, ApplicationFailure, CancellationScope, getExternalWorkflowHandle, isCancellation, patched,
  proxyActivities, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES, stageEventSignal } from './definitions';
import { applyPostprocess, applyQuantify, stageSeconds } from './results';
import type {
  ConvertResult, ImageInput, ImageResult, PostprocessResult, PredictResult, ProgressReport, QuantifyResult, Stage, StageEvent,
} from './types';

function activitiesFor(taskQueue: string, maxAttempts: number, heartbeatTimeoutS: number) {
  return proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '4h',
    // Long stages heartbeat every few seconds from a timer, so a dead worker is noticed quickly.
    heartbeatTimeout: heartbeatTimeoutS * 1000,
    retry: { maximumAttempts: maxAttempts, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
  });
}

/**
 * Patch id of the round-trip diet (2026-11-30): stage events go to the parent in batches, one signal per
 * stage change, without waiting for the signal's acknowledgement before the next activity is scheduled
 * (both leave in the same workflow task); manifest and benchmark row are one activity, `finishImage`;
 * the parent counts the record stage from the child's result instead of a last signal. Children
 * started before the patch (histories without its marker) replay the old path, unchanged.
 */
export const FEWER_ROUND_TRIPS = 'fewer-round-trips-2026-11-30';

/**
 * Patch id (2026-11-30, later): the batched stage events travel in the next activity's input and that
 * activity signals the parent while it runs ({@link ProgressReport}), so the child issues no signal
 * commands — no acknowledgement events, no workflow task per acknowledgement (62 → 39 events, 11 → 6
 * workflow tasks per image).
 * Children without its marker replay their own path.
 */
export const STAGE_EVENTS_FROM_ACTIVITIES = 'stage-events-from-activities-2026-11-30';

/**
 * Patch id (2026-11-30, later still): an image of at most `fuseStagesMaxPixels` pixels runs postprocess,
 * quantify and record as one activity (`postprocessToRecord`): two hand-overs through the server fewer
 * per image, and two workflow tasks fewer. Children without its marker replay three activities.
 */
export const FUSED_SMALL_IMAGES = 'fused-small-images-2026-11-30';

/**
 * One image through every stage: convert (cpu) → predict (gpu) → postprocess (cpu) → quantify (cpu)
 * → record (cpu); an image of at most `fuseStagesMaxPixels` pixels runs the last three as one activity.
 * Only URIs travel between stages. A stage failure ends the image (recorded with its
 * cause), never the run: the child returns a failed result instead of throwing.
 */
export async function processImage(input: ImageInput): Promise<ImageResult> {
  const cpu = activitiesFor(input.taskQueues.cpu, input.maxAttempts, input.heartbeatTimeoutS);
  const gpu = activitiesFor(input.taskQueues.gpu, input.maxAttempts, input.heartbeatTimeoutS);
  const record = proxyActivities<Activities>({
    taskQueue: input.taskQueues.cpu, startToCloseTimeout: '5m', retry: { maximumAttempts: 10, nonRetryableErrorTypes: ['INVALID_CONFIG'] },
  });
  const { image, outputs, settings } = input;
  const result: ImageResult = { name: image.name, imageUri: image.imageUri, status: 'done', stageSeconds: {}, outputs };
  const metrics: { convert?: ConvertResult; predict?: PredictResult; postprocess?: PostprocessResult; quantify?: QuantifyResult } = {};
  const startedAtMs = Date.now();

  const batched = patched(FEWER_ROUND_TRIPS);
  const send = async (events: StageEvent[]) => {
    if (!input.parentWorkflowId || events.length === 0) return;
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(stageEventSignal, batched ? events : events[0]);
    } catch {
      // The parent may be gone (cancelled); progress reporting must not fail the image.
    }
  };
  // Batched: events wait here and leave with the next stage's start, not awaited (send() never rejects).
  const pending: StageEvent[] = [];
  const notify = async (ev: Omit<StageEvent, 'name'>) => {
    if (batched) pending.push({ name: image.name, ...ev });
    else await send([{ name: image.name, ...ev }]);
  };
  const fromActivities = batched && patched(STAGE_EVENTS_FROM_ACTIVITIES);
  // The events so far: handed to the next activity (since the patch), or sent now, not awaited.
  const flush = (): ProgressReport | undefined => {
    const events = pending.splice(0);
    if (!fromActivities) {
      void send(events);
      return undefined;
    }
    return input.parentWorkflowId && events.length > 0 ? { parentWorkflowId: input.parentWorkflowId, events } : undefined;
  };
  const stage = async <T extends { timeS: number; inputLoadS: number; outputWriteS: number }>(name: Stage, run: (progress?: ProgressReport) => Promise<T>): Promise<T> => {
    await notify({ stage: name, event: 'started' });
    const out = await run(flush());
    result.stageSeconds[name] = stageSeconds(out);
    return out;
  };

  // --from-stage starts later, reusing the intermediates an earlier run kept.
  const order: Stage[] = ['convert', 'predict', 'postprocess', 'quantify'];
  const first = order.indexOf(input.fromStage ?? 'convert');
  const runs = (s: Stage) => order.indexOf(s) >= first;
  const predictionsUri = !runs('predict') && image.keptPredictionsUri ? image.keptPredictionsUri : outputs.predictionsUri;
  const outputsUsed = { ...outputs, predictionsUri };
  result.outputs = outputsUsed;

  let current: Stage = order[first];
  try {
    if (runs('convert')) {
      metrics.convert = await stage('convert', (progress) => cpu.convertImage({
        imageUri: image.imageUri, npzUri: outputs.npzUri, channels: settings.channels, progress,
      }));
      await notify({ stage: 'convert', event: 'done' });
    }
    if (runs('predict')) {
      current = 'predict';
      metrics.predict = await stage('predict', (progress) => gpu.predictImage({
        npzUri: outputs.npzUri, predictionsUri, model: settings.model,
        umPerPixel: metrics.convert?.umPerPixel ?? undefined, progress,
      }));
      await notify({ stage: 'predict', event: 'done' });
    }
    const small = (c?: ConvertResult) => !!c && c.width * c.height <= (input.fuseStagesMaxPixels ?? 0);
    if (fromActivities && runs('postprocess') && small(metrics.convert) && patched(FUSED_SMALL_IMAGES)) {
      current = 'postprocess';
      await notify({ stage: 'postprocess', event: 'started' });
      let out: Awaited<ReturnType<Activities['postprocessToRecord']>>;
      try {
        out = await cpu.postprocessToRecord({
          postprocess: postprocessInput(), quantify: quantifyInput(), result, metrics,
          manifest: manifestBase(), benchmark: benchmarkBase(), startedAtMs, maxAttempts: input.maxAttempts, progress: flush(),
        });
      } catch (err) {
        // The failure names its stage; the stages before it ended.
        if (!isCancellation(err) && stageOfFailure(err) === 'quantify') {
          await notify({ stage: 'postprocess', event: 'done' });
          await notify({ stage: 'quantify', event: 'started' });
          current = 'quantify';
        }
        throw err;
      }
      metrics.postprocess = out.postprocess;
      applyPostprocess(result, out.postprocess);
      metrics.quantify = out.quantify;
      applyQuantify(result, out.quantify);
      result.record = out.record;
      await notify({ stage: 'postprocess', event: 'done', cells: out.postprocess.cells });
      await notify({ stage: 'quantify', event: 'started' });
      await notify({ stage: 'quantify', event: 'done', cells: result.cells });
      await notify({ stage: 'record', event: 'started' });
      // No activity follows to carry these: the run counts them from the result.
      result.events = pending.splice(0);
      return result;
    }
    if (runs('postprocess')) {
      current = 'postprocess';
      metrics.postprocess = await stage('postprocess', (progress) => cpu.postprocessImage({ ...postprocessInput(), progress }));
      applyPostprocess(result, metrics.postprocess);
      await notify({ stage: 'postprocess', event: 'done', cells: metrics.postprocess.cells });
    }
    current = 'quantify';
    metrics.quantify = await stage('quantify', (progress) => cpu.quantifyImage({ ...quantifyInput(), progress }));
    applyQuantify(result, metrics.quantify);
    await notify({ stage: 'quantify', event: 'done', cells: result.cells });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = err instanceof ActivityFailure ? err.cause : err;
    result.status = 'failed';
    result.failedStage = current;
    result.error = cause instanceof Error ? cause.message : String(cause);
    result.errorType = cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined;
    delete result.outputs;
    await notify({ stage: current, event: 'failed', error: result.error, errorType: result.errorType });
  }

  if (batched) {
    // Manifest (last: its presence tells a later run this image is complete, or failed and why), then
    // the benchmark row, in one activity; a sink outage must not lose the image's result.
    await notify({ stage: 'record', event: 'started' });
    const progress = flush();
    try {
      const out = await CancellationScope.nonCancellable(() => record.finishImage({
        manifest: manifestInput(), benchmark: benchmarkInput(), manifestAttempts: 5, progress,
      }));
      result.record = { status: 'done', manifestError: out.manifestError };
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      result.record = { status: 'failed', error: cause instanceof Error ? cause.message : String(cause) };
    }
    return result;
  }

  // Before the patch: manifest and row as two activities, each stage event its own awaited signal.
  try {
    await CancellationScope.nonCancellable(() => record.writeManifest(manifestInput()));
  } catch {
    // Without a manifest the image is simply redone next time.
  }
  await notify({ stage: 'record', event: 'started' });
  try {
    await CancellationScope.nonCancellable(() => record.recordBenchmark(benchmarkInput()));
    await notify({ stage: 'record', event: 'done' });
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    await notify({ stage: 'record', event: 'failed', error: cause instanceof Error ? cause.message : String(cause) });
  }
  return result;

  function postprocessInput() {
    return { predictionsUri, outDir: input.segmasksDir, name: image.name, postprocess: settings.postprocess };
  }
  function quantifyInput() {
    return {
      imageUri: image.imageUri, imageName: image.name, wholeCellMaskUri: outputs.wholeCellMaskUri,
      nucleusMaskUri: outputs.nucleusMaskUri, tsvUri: outputs.tsvUri, geojsonUri: outputs.geojsonUri,
      legacyNames: settings.quantify.legacyNames,
    };
  }
  function manifestBase() {
    return { runId: input.runId, jobsDir: input.jobsDir, settingsHash: input.settingsHash, intermediates: { npzUri: outputs.npzUri, predictionsUri } };
  }
  function manifestInput() {
    return { ...manifestBase(), result };
  }
  function benchmarkBase() {
    return { runId: input.runId, workflowId: workflowInfo().workflowId, image, settings, settingsHash: input.settingsHash };
  }
  function benchmarkInput() {
    return { ...benchmarkBase(), result, metrics, totalTimeS: (Date.now() - startedAtMs) / 1000 };
  }
}

/** The stage a failure of `postprocessToRecord` names in its details, if any. */
function stageOfFailure(err: unknown): Stage | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  for (const d of cause.details ?? []) {
    const s = (d as { stage?: unknown } | null)?.stage;
    if (s === 'postprocess' || s === 'quantify' || s === 'record') return s;
  }
  return undefined;
}
