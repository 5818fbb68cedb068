import { buildBenchmarkRow, type RowInput } from '../../core/bench/row';
import { openSink } from '../../core/bench/sinks';
import { toFailure } from '../common';

export type RecordInput = Omit<RowInput, 'priceTable' | 'now'>;

/** Writes the image's benchmark row to the configured sink (DuckDB by default, or BigQuery). */
export function makeRecord(opts: { priceTable?: Record<string, number> } = {}) {
  return async function recordBenchmark(input: RecordInput): Promise<void> {
    const startedAtMs = input.recordStartedAtMs ?? Date.now();
    try {
      const sink = await openSink(input.settings.benchmark);
      if (!sink) return;
      try {
        await sink.write([buildBenchmarkRow({ ...input, recordStartedAtMs: startedAtMs, priceTable: opts.priceTable })]);
      } finally {
        await sink.close();
      }
    } catch (e) {
      throw toFailure(e);
    }
  };
}
