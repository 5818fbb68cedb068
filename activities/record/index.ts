import { Context } from '@temporalio/activity';
import type { RecordInput, RecordResult } from '../../core/contracts';
import * as stage from '../../core/record';
import { alongsideProgress, toFailure } from '../common';

/** The record stage: the image's manifest, then its benchmark row (see core/record). */
export function makeRecord(opts: { priceTable?: Record<string, number> } = {}) {
  return async function record(input: RecordInput): Promise<RecordResult> {
    // The stage events are sent while the manifest and row are written.
    return alongsideProgress(input.progress, async () => {
      try {
        return await stage.record({
          manifest: input.manifest, benchmark: input.benchmark, manifestAttempts: input.manifestAttempts,
          attempt: Context.current().info.attempt, priceTable: opts.priceTable,
        });
      } catch (e) {
        throw toFailure(e);
      }
    });
  };
}
