import {
  ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, proxyActivities, workflowInfo,
} from '@temporalio/workflow';
import {
  NON_RETRYABLE_CODES, applyPostprocess, applyQuantify, stageSeconds, type FusedResult, type ImageInput, type ImageMetrics,
  type ImageResult, type ProgressReport, type Stage, type StageMetrics, type TesselActivities,
} from '../core/contracts';
import { runBlockwiseImage } from './process-blocks';
import { StageEventQueue } from './stage-events';

/** The stages `--from-stage` can skip to, in order; record always runs, classify only with a classifier. */
const ORDER: Stage[] = ['convert', 'predict', 'postprocess', 'quantify', 'classify'];

/**
 * One image through every stage: convert (cpu) → predict (gpu) → postprocess (cpu) → quantify (cpu) →
 * classify (cpu, when the run has a classifier) → record (cpu); an image of at most `fusedMaxPixels`
 * pixels runs the stages after predict as one activity, `fused`; one that convert finds above the
 * blockwise threshold runs predict, postprocess and quantify block by block in a workflow of its own
 * (`processBlocks`), then classify and record as any image.
 * Only URIs travel between stages. A stage failure ends the image (recorded with its cause), never the
 * run: the workflow returns a failed result instead of throwing.
 */
export async function processImage(input: ImageInput): Promise<ImageResult> {
  const { cpu, gpu, record } = activitiesFor(input);
  const { image, outputs, settings } = input;
  const events = new StageEventQueue(image.name, input.parentWorkflowId);
  const first = ORDER.indexOf(input.fromStage ?? 'convert');
  const runs = (s: Stage) => ORDER.indexOf(s) >= first;
  // --from-stage starts later, reusing the raw predictions an earlier run kept.
  const predictionsUri = !runs('predict') && image.keptPredictionsUri ? image.keptPredictionsUri : outputs.predictionsUri;
  const result: ImageResult = { name: image.name, imageUri: image.imageUri, status: 'done', stageSeconds: {}, outputs: { ...outputs, predictionsUri } };
  const metrics: ImageMetrics = {};
  const startedAtMs = Date.now();
  let current = ORDER[first];

  const stage = async <T extends StageMetrics>(name: Stage, run: (progress?: ProgressReport) => Promise<T>): Promise<T> => {
    current = name;
    events.add(name, 'started');
    const out = await run(events.take());
    result.stageSeconds[name] = stageSeconds(out);
    events.add(name, 'done', { cells: (out as { cells?: number }).cells });
    return out;
  };
  const postprocessInput = { predictionsUri, outDir: input.segmasksDir, name: image.name, postprocess: settings.postprocess };
  const quantifyInput = {
    imageUri: image.imageUri, imageName: image.name, wholeCellMaskUri: outputs.wholeCellMaskUri, nucleusMaskUri: outputs.nucleusMaskUri,
    tsvUri: outputs.tsvUri, geojsonUri: outputs.geojsonUri, legacyNames: settings.quantify.legacyNames,
  };
  const classifyInput = settings.classify && { tsvUri: outputs.tsvUri, geojsonUri: outputs.geojsonUri, classifierUri: settings.classify.uri };
  const manifest = { runId: input.runId, jobsDir: input.jobsDir, settingsHash: input.settingsHash, intermediates: { npzUri: outputs.npzUri, predictionsUri } };
  const benchmark = { runId: input.runId, workflowId: workflowInfo().workflowId, settingsHash: input.settingsHash, image, settings };

  try {
    if (runs('convert')) {
      metrics.convert = await stage('convert', (progress) => cpu.convert({
        imageUri: image.imageUri, npzUri: outputs.npzUri, channels: settings.channels, blockwiseAbovePixels: input.blockwise?.abovePixels, progress,
      }));
    }
    const blocks = metrics.convert?.blockwise === true;
    if (blocks) await runBlockwiseImage(input, result, metrics, events, (s) => (current = s));
    if (!blocks && runs('predict')) {
      metrics.predict = await stage('predict', (progress) => gpu.predict({
        npzUri: outputs.npzUri, predictionsUri, model: settings.model, umPerPixel: metrics.convert?.umPerPixel ?? undefined, progress,
      }));
    }
    const c = metrics.convert;
    if (!blocks && runs('postprocess') && c && c.width * c.height <= input.fusedMaxPixels) {
      current = 'postprocess';
      events.add('postprocess', 'started');
      const out = await fused(() => cpu.fused({
        postprocess: postprocessInput, quantify: quantifyInput, classify: classifyInput, result, metrics, manifest, benchmark, startedAtMs,
        maxAttempts: input.maxAttempts, progress: events.take(),
      }), events, (s) => (current = s));
      return fusedDone(out, result, metrics, events);
    }
    if (!blocks && runs('postprocess')) {
      metrics.postprocess = await stage('postprocess', (progress) => cpu.postprocess({ ...postprocessInput, progress }));
      applyPostprocess(result, metrics.postprocess);
    }
    if (!blocks && runs('quantify')) {
      metrics.quantify = await stage('quantify', (progress) => cpu.quantify({ ...quantifyInput, progress }));
      applyQuantify(result, metrics.quantify);
    }
    // A blockwise image's TSV and GeoJSON are where a whole image's are, so classify reads them alike.
    if (classifyInput) {
      metrics.classify = await stage('classify', (progress) => cpu.classify({ ...classifyInput, progress }));
      result.cells ??= metrics.classify.cells;
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = err instanceof ActivityFailure ? err.cause : err;
    Object.assign(result, {
      status: 'failed', failedStage: current, error: cause instanceof Error ? cause.message : String(cause),
      errorType: cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined, outputs: undefined,
    });
    events.add(current, 'failed', { error: result.error, errorType: result.errorType });
  }

  // The manifest (its presence tells a later run this image is complete, or failed and why), then the
  // benchmark row; a sink outage must not lose the image's result.
  events.add('record', 'started');
  try {
    const out = await CancellationScope.nonCancellable(() => record.record({
      manifest: { ...manifest, result }, benchmark: { ...benchmark, result, metrics, totalTimeS: (Date.now() - startedAtMs) / 1000 },
      manifestAttempts: 5, progress: events.take(),
    }));
    result.record = { status: 'done', manifestError: out.manifestError };
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    result.record = { status: 'failed', error: cause instanceof Error ? cause.message : String(cause) };
  }
  return result;
}

function activitiesFor(input: ImageInput) {
  const stages = (taskQueue: string) => proxyActivities<TesselActivities>({
    taskQueue,
    startToCloseTimeout: '4h',
    // Long stages heartbeat every few seconds from a timer, so a dead worker is noticed quickly.
    heartbeatTimeout: input.heartbeatTimeoutS * 1000,
    retry: { maximumAttempts: input.maxAttempts, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...NON_RETRYABLE_CODES] },
  });
  const record = proxyActivities<TesselActivities>({
    taskQueue: input.taskQueues.cpu, startToCloseTimeout: '5m', retry: { maximumAttempts: 10, nonRetryableErrorTypes: ['INVALID_CONFIG'] },
  });
  return { cpu: stages(input.taskQueues.cpu), gpu: stages(input.taskQueues.gpu), record };
}

/** A `fused` activity's stages into the image's result and metrics, and their stage events into the result. */
function fusedDone(out: FusedResult, result: ImageResult, metrics: ImageMetrics, events: StageEventQueue): ImageResult {
  metrics.postprocess = out.postprocess;
  applyPostprocess(result, out.postprocess);
  metrics.quantify = out.quantify;
  applyQuantify(result, out.quantify);
  result.record = out.record;
  events.add('postprocess', 'done', { cells: out.postprocess.cells });
  events.add('quantify', 'started');
  events.add('quantify', 'done', { cells: result.cells });
  if (out.classify) {
    metrics.classify = out.classify;
    result.stageSeconds.classify = stageSeconds(out.classify);
    events.add('classify', 'started');
    events.add('classify', 'done', { cells: out.classify.cells });
  }
  events.add('record', 'started');
  // No activity follows to carry these: the run counts them from the result.
  result.events = events.takeAll();
  return result;
}

/**
 * Runs the `fused` activity. Its failure names the stage that failed in its details; the stages before
 * that one (from postprocess on) ended and it started, so the image fails at the named stage.
 */
async function fused(run: () => Promise<FusedResult>, events: StageEventQueue, failedAt: (s: Stage) => void): Promise<FusedResult> {
  try {
    return await run();
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const named = cause instanceof ApplicationFailure ? cause.details?.map((d) => (d as { stage?: unknown } | null)?.stage) : [];
    const stage = (['quantify', 'classify'] as const).find((s) => named?.includes(s));
    if (!isCancellation(err) && stage) {
      for (const s of ORDER.slice(ORDER.indexOf('postprocess'), ORDER.indexOf(stage))) {
        events.add(s, 'done');
        events.add(ORDER[ORDER.indexOf(s) + 1], 'started');
      }
      failedAt(stage);
    }
    throw err;
  }
}
