import { ApplicationFailure, CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import type { ImageResult, PostprocessResult, ProgressReport, QuantifyResult, Stage } from '../../workflows/types';
import { applyPostprocess, applyQuantify } from '../../workflows/results';
import { alongsideProgress, type WorkerEnvironment } from '../common';
import { makeFinish } from '../finish';
import type { ManifestInput } from '../manifest';
import { makePostprocess, type PostprocessInput } from '../postprocess';
import { makeQuantify, type QuantifyInput } from '../quantify';
import type { RecordInput } from '../record';

export interface PostprocessToRecordInput {
  postprocess: Omit<PostprocessInput, 'progress'>;
  quantify: Omit<QuantifyInput, 'progress'>;
  /** The image's result and stage metrics before postprocess; completed here for the manifest and row. */
  result: ImageResult;
  metrics: RecordInput['metrics'];
  manifest: Omit<ManifestInput, 'result'>;
  benchmark: Omit<RecordInput, 'result' | 'metrics' | 'totalTimeS'>;
  /** When the image's workflow started (epoch ms), for the row's total time. */
  startedAtMs: number;
  /**
   * The activity's retry limit. A retryable manifest or row failure retries the whole activity until the
   * last attempt, which writes the row without the manifest, or returns the record as failed, instead of
   * failing the image: its masks and table are complete by then.
   */
  maxAttempts: number;
  /** Stage events to send the run workflow while it works (postprocess's start and what ended before it). */
  progress?: ProgressReport;
}

export interface PostprocessToRecordResult {
  postprocess: PostprocessResult;
  quantify: QuantifyResult;
  record: { status: 'done'; manifestError?: string } | { status: 'failed'; error: string };
}

/**
 * An image's last three stages — postprocess, quantify, record (manifest, then benchmark row) — in one
 * CPU activity, for images small enough that the hand-overs through the server between stages cost a good
 * part of the stages' work (the child decides, see `RunInput.fuseStagesMaxPixels`). Each stage keeps its
 * own metrics and benchmark columns; a failure names its stage in the failure's details (`{ stage }`), so
 * the image fails at the right one. A retry redoes the whole activity, which at this size is cheap; outputs are written
 * atomically, so a redone stage replaces, never duplicates.
 */
export function makePostprocessToRecord(env: WorkerEnvironment, opts: { priceTable?: Record<string, number> } = {}) {
  const postprocessImage = makePostprocess(env);
  const quantifyImage = makeQuantify(env);
  const finish = makeFinish(opts);
  return async function postprocessToRecord(input: PostprocessToRecordInput): Promise<PostprocessToRecordResult> {
    return alongsideProgress(input.progress, async () => {
      const postprocess = await asStage('postprocess', () => postprocessImage(input.postprocess));
      const quantify = await asStage('quantify', () => quantifyImage(input.quantify));
      // It waited for postprocess in this activity, not in a queue.
      quantify.queueWaitS = 0;
      const result: ImageResult = { ...input.result, stageSeconds: { ...input.result.stageSeconds } };
      applyPostprocess(result, postprocess);
      applyQuantify(result, quantify);
      // The activity has a heartbeat timeout (the separate record activity has none): keep beating while a
      // row waits for the DuckDB file another process holds.
      const beat = setInterval(() => heartbeat({ stage: 'record' }), 2000);
      try {
        const out = await finish({
          manifest: { ...input.manifest, result },
          benchmark: { ...input.benchmark, result, metrics: { ...input.metrics, postprocess, quantify }, totalTimeS: (Date.now() - input.startedAtMs) / 1000 },
          manifestAttempts: input.maxAttempts,
        });
        return { postprocess, quantify, record: { status: 'done', manifestError: out.manifestError } };
      } catch (e) {
        if (isCancel(e)) throw e;
        const permanent = e instanceof ApplicationFailure && e.nonRetryable;
        if (!permanent && Context.current().info.attempt < input.maxAttempts) throw withStage(e, 'record');
        return { postprocess, quantify, record: { status: 'failed', error: e instanceof Error ? e.message : String(e) } };
      } finally {
        clearInterval(beat);
      }
    });
  };
}

function isCancel(e: unknown): boolean {
  return e instanceof CancelledFailure || Context.current().cancellationSignal.aborted;
}

async function asStage<T>(stage: Stage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw isCancel(e) ? e : withStage(e, stage);
  }
}

/** The same failure (message, type, retryability, details) with `{ stage }` added to its details. */
export function withStage(e: unknown, stage: Stage): ApplicationFailure {
  const f = e instanceof ApplicationFailure ? e : undefined;
  return ApplicationFailure.create({
    message: e instanceof Error ? e.message : String(e),
    type: f ? f.type ?? undefined : e instanceof Error ? e.name : 'Error',
    nonRetryable: f?.nonRetryable ?? false,
    details: [...(f?.details ?? []), { stage }],
    cause: e instanceof Error && !f ? e : f?.cause,
  });
}
