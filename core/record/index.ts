import { openSink } from '../bench/sinks';
import type { BenchmarkInput, ManifestInput, RecordResult } from '../contracts';
import { isTesselError } from '../errors';
import { manifestUri, readManifest, writeManifest } from '../workspace/manifest';
import { buildBenchmarkRow, type RowInput } from './row';

export interface RecordOptions {
  manifest: ManifestInput;
  benchmark: BenchmarkInput;
  /** This attempt's number, 1 for the first. */
  attempt: number;
  /** Attempts at a manifest write that fails with a retryable error before the row is written without it. */
  manifestAttempts: number;
  /** USD per hour by instance type, for the row's cost estimate. */
  priceTable?: Record<string, number>;
}

/**
 * The record stage, an image's last step: the manifest first — its presence tells a later run the image
 * is complete (or failed, and why) — then the benchmark row. A retryable manifest failure is thrown
 * before any row is written, so a retry never writes a row for it twice; once `manifestAttempts` are
 * spent (or on a permanent failure) the row is still written, since every image leaves one. A retry
 * after a failed row write does not rewrite a manifest this run already wrote. The row's key (run,
 * image, compartment) makes a repeated write replace, never duplicate.
 */
export async function record(opts: RecordOptions): Promise<RecordResult> {
  const startedAtMs = Date.now();
  const out: RecordResult = {};
  const { manifest } = opts;
  const written = opts.attempt > 1
    ? await readManifest(manifestUri(manifest.jobsDir, manifest.result.name)).then((m) => m?.runId === manifest.runId, () => false)
    : false;
  if (!written) {
    try {
      await writeManifest(manifest);
    } catch (e) {
      const permanent = isTesselError(e) && !e.retryable;
      if (!permanent && opts.attempt < opts.manifestAttempts) throw e;
      out.manifestError = e instanceof Error ? e.message : String(e);
    }
  }
  await writeBenchmarkRow(opts.benchmark, { priceTable: opts.priceTable, recordStartedAtMs: startedAtMs });
  return out;
}

/** Writes the image's benchmark row to the configured sink (DuckDB by default, or BigQuery; none: nothing). */
export async function writeBenchmarkRow(input: BenchmarkInput, extra: Pick<RowInput, 'priceTable' | 'recordStartedAtMs'> = {}): Promise<void> {
  const sink = await openSink(input.settings.benchmark);
  if (!sink) return;
  try {
    await sink.write([buildBenchmarkRow({ ...input, ...extra })]);
  } finally {
    await sink.close();
  }
}
