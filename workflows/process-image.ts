import {
  ActivityFailure, ApplicationFailure, CancellationScope, getExternalWorkflowHandle, isCancellation, proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES, stageEventSignal } from './definitions';
import type {
  ConvertResult, ImageInput, ImageResult, PostprocessResult, PredictResult, QuantifyResult, Stage, StageEvent,
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
 * One image through every stage: convert (cpu) → predict (gpu) → postprocess (cpu) → quantify (cpu)
 * → record (cpu). Only URIs travel between stages. A stage failure ends the image (recorded with its
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

  const notify = async (ev: Omit<StageEvent, 'name'>) => {
    if (!input.parentWorkflowId) return;
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(stageEventSignal, { name: image.name, ...ev });
    } catch {
      // The parent may be gone (cancelled); progress reporting must not fail the image.
    }
  };
  const stage = async <T extends { timeS: number; inputLoadS: number; outputWriteS: number }>(name: Stage, run: () => Promise<T>): Promise<T> => {
    await notify({ stage: name, event: 'started' });
    const out = await run();
    result.stageSeconds[name] = out.inputLoadS + out.timeS + out.outputWriteS;
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
      metrics.convert = await stage('convert', () => cpu.convertImage({
        imageUri: image.imageUri, npzUri: outputs.npzUri, channels: settings.channels,
      }));
      await notify({ stage: 'convert', event: 'done' });
    }
    if (runs('predict')) {
      current = 'predict';
      metrics.predict = await stage('predict', () => gpu.predictImage({
        npzUri: outputs.npzUri, predictionsUri, model: settings.model,
        umPerPixel: metrics.convert?.umPerPixel ?? undefined,
      }));
      await notify({ stage: 'predict', event: 'done' });
    }
    if (runs('postprocess')) {
      current = 'postprocess';
      metrics.postprocess = await stage('postprocess', () => cpu.postprocessImage({
        predictionsUri, outDir: input.segmasksDir, name: image.name, postprocess: settings.postprocess,
      }));
      result.nuclei = metrics.postprocess.nuclei;
      await notify({ stage: 'postprocess', event: 'done', cells: metrics.postprocess.cells });
    }
    current = 'quantify';
    metrics.quantify = await stage('quantify', () => cpu.quantifyImage({
      imageUri: image.imageUri, imageName: image.name, wholeCellMaskUri: outputs.wholeCellMaskUri,
      nucleusMaskUri: outputs.nucleusMaskUri, tsvUri: outputs.tsvUri, geojsonUri: outputs.geojsonUri,
      legacyNames: settings.quantify.legacyNames,
    }));
    result.cells = metrics.quantify.cells;
    result.warnings = metrics.quantify.warnings;
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

  // The manifest goes last: its presence tells a later run that this image is complete (or failed, and why).
  try {
    await CancellationScope.nonCancellable(() => record.writeManifest({
      runId: input.runId, jobsDir: input.jobsDir, result, settingsHash: input.settingsHash,
      intermediates: { npzUri: outputs.npzUri, predictionsUri },
    }));
  } catch {
    // Without a manifest the image is simply redone next time.
  }

  // Every image leaves a benchmark row, failed or not; a sink outage must not lose the image's result.
  await notify({ stage: 'record', event: 'started' });
  try {
    await CancellationScope.nonCancellable(() => record.recordBenchmark({
      runId: input.runId, workflowId: workflowInfo().workflowId, image, settings, result, metrics,
      totalTimeS: (Date.now() - startedAtMs) / 1000,
    }));
    await notify({ stage: 'record', event: 'done' });
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    await notify({ stage: 'record', event: 'failed', error: cause instanceof Error ? cause.message : String(cause) });
  }
  return result;
}
