import { heartbeat } from '@temporalio/activity';
import type { FinalizeInput, FinalizeOutput } from '../../core/contracts';
import { finalizeRun } from '../../core/workspace/finalize';
import { toFailure } from '../common';

/** The QuPath project and the run's summary (see `finalizeRun`), heartbeating while manifests are read. */
export async function finalize(input: FinalizeInput): Promise<FinalizeOutput> {
  return finalizeRun(input, (read, of) => heartbeat({ manifestsRead: read, of })).catch((e: unknown) => {
    throw toFailure(e);
  });
}
