import { ApplicationFailure, Context } from '@temporalio/activity';
import { manifestUri, readManifest } from '../../core/workspace/manifest';
import { writeManifest, type ManifestInput } from '../manifest';
import type { ProgressReport } from '../../workflows/types';
import { alongsideProgress } from '../common';
import { makeRecord, type RecordInput } from '../record';

export interface FinishInput {
  manifest: ManifestInput;
  benchmark: RecordInput;
  /** Attempts at a manifest write that fails with a retryable error before the row is written without it. */
  manifestAttempts: number;
  /** Stage events to send the run workflow first (the record stage's start and what ended before it). */
  progress?: ProgressReport;
}

export interface FinishResult {
  /** Set when the manifest could not be written: the image is then simply redone by a later run. */
  manifestError?: string;
}

/**
 * The image's last step, one activity instead of two (one fewer round trip through the server per
 * image): the manifest first — its presence tells a later run the image is complete — then the
 * benchmark row. A retryable manifest failure retries the activity before any row is written, so a
 * retry never writes a second row for it; once `manifestAttempts` are spent (or on a permanent
 * failure) the row is still written, since every image leaves one. A retry after a failed row write
 * does not rewrite a manifest this run already wrote.
 */
export function makeFinishImage(opts: { priceTable?: Record<string, number> } = {}) {
  const finish = makeFinish(opts);
  return async function finishImage(input: FinishInput): Promise<FinishResult> {
    // Sent while the manifest and row are written.
    return alongsideProgress(input.progress, () => finish(input));
  };
}

/** The body of {@link makeFinishImage}'s activity, for an activity that ends an image the same way. */
export function makeFinish(opts: { priceTable?: Record<string, number> } = {}) {
  const recordBenchmark = makeRecord(opts);
  return async function finish(input: Omit<FinishInput, 'progress'>): Promise<FinishResult> {
    const startedAtMs = Date.now();
    const { attempt } = Context.current().info;
    const out: FinishResult = {};
    const { manifest } = input;
    const written = attempt > 1
      ? await readManifest(manifestUri(manifest.jobsDir, manifest.result.name)).then((m) => m?.runId === manifest.runId, () => false)
      : false;
    if (!written) {
      try {
        await writeManifest(manifest);
      } catch (e) {
        const permanent = e instanceof ApplicationFailure && e.nonRetryable;
        if (!permanent && attempt < input.manifestAttempts) throw e;
        out.manifestError = e instanceof Error ? e.message : String(e);
      }
    }
    await recordBenchmark({ ...input.benchmark, recordStartedAtMs: startedAtMs });
    return out;
  };
}
