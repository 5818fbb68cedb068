import { ApplicationFailure, CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import {
  applyPostprocess, applyQuantify, stageSeconds, type FusedInput, type FusedResult, type ImageResult, type Stage,
} from '../../core/contracts';
import * as stage from '../../core/record';
import { alongsideProgress, toFailure, type WorkerEnvironment } from '../common';
import { makeClassify } from '../classify';
import { makePostprocess } from '../postprocess';
import { makeQuantify } from '../quantify';

/**
 * The `fused` activity: an image's stages after predict — postprocess, quantify, classify (when the run
 * has a classifier), record (manifest, then benchmark row) — in one CPU activity, for images small enough that the hand-overs through the server
 * between stages cost a good part of the stages' work (the image's workflow decides, see
 * `RunInput.fusedMaxPixels`). Each stage keeps its own metrics and benchmark columns; a failure names its
 * stage in the failure's details (`{ stage }`), so the image fails at the right one. A retry redoes the
 * whole activity, which at this size is cheap; outputs are written atomically, so a redone stage
 * replaces, never duplicates.
 */
export function makeFused(env: WorkerEnvironment, opts: { priceTable?: Record<string, number> } = {}) {
  const postprocess = makePostprocess(env);
  const quantify = makeQuantify(env);
  const classify = makeClassify(env);
  return async function fused(input: FusedInput): Promise<FusedResult> {
    return alongsideProgress(input.progress, async () => {
      const pp = await asStage('postprocess', () => postprocess(input.postprocess));
      const q = await asStage('quantify', () => quantify(input.quantify));
      // They waited for the stage before them in this activity, not in a queue.
      q.queueWaitS = 0;
      const c = input.classify && await asStage('classify', () => classify(input.classify!));
      if (c) c.queueWaitS = 0;
      const result: ImageResult = { ...input.result, stageSeconds: { ...input.result.stageSeconds } };
      applyPostprocess(result, pp);
      applyQuantify(result, q);
      if (c) result.stageSeconds.classify = stageSeconds(c);
      // Keep beating while a row waits for the DuckDB file another process holds.
      const beat = setInterval(() => heartbeat({ stage: 'record' }), 2000);
      const { attempt } = Context.current().info;
      try {
        const out = await stage.record({
          manifest: { ...input.manifest, result },
          benchmark: {
            ...input.benchmark, result, metrics: { ...input.metrics, postprocess: pp, quantify: q, classify: c },
            totalTimeS: (Date.now() - input.startedAtMs) / 1000,
          },
          attempt, manifestAttempts: input.maxAttempts, priceTable: opts.priceTable,
        });
        return { postprocess: pp, quantify: q, classify: c, record: { status: 'done', manifestError: out.manifestError } };
      } catch (e) {
        if (isCancel(e)) throw e;
        const failure = toFailure(e);
        const permanent = failure instanceof ApplicationFailure && failure.nonRetryable;
        if (!permanent && attempt < input.maxAttempts) throw withStage(failure, 'record');
        return { postprocess: pp, quantify: q, classify: c, record: { status: 'failed', error: e instanceof Error ? e.message : String(e) } };
      } finally {
        clearInterval(beat);
      }
    });
  };
}

function isCancel(e: unknown): boolean {
  return e instanceof CancelledFailure || Context.current().cancellationSignal.aborted;
}

async function asStage<T>(name: Stage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw isCancel(e) ? e : withStage(e, name);
  }
}

/** The same failure (message, type, retryability, details) with `{ stage }` added to its details. */
export function withStage(e: unknown, name: Stage): ApplicationFailure {
  const f = e instanceof ApplicationFailure ? e : undefined;
  return ApplicationFailure.create({
    message: e instanceof Error ? e.message : String(e),
    type: f ? f.type ?? undefined : e instanceof Error ? e.name : 'Error',
    nonRetryable: f?.nonRetryable ?? false,
    details: [...(f?.details ?? []), { stage: name }],
    cause: e instanceof Error && !f ? e : f?.cause,
  });
}
