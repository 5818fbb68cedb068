import type { WorkflowClient } from '@temporalio/client';
import { BLOCK_STAGES, blockProgressQuery, type BlockwiseProgress, type RunProgress } from '../core/contracts';

/**
 * The block progress of a run's images that run block by block, asked of each image's blocks workflow
 * (`blockProgress` query: free, no history); images whose workflow does not answer are left out.
 */
export async function blockProgressOf(client: WorkflowClient, p: RunProgress): Promise<BlockwiseProgress[]> {
  const out = await Promise.all((p.blockwise ?? []).map(({ workflowId }) =>
    client.getHandle(workflowId).query(blockProgressQuery).catch(() => undefined)));
  return out.filter((b): b is BlockwiseProgress => b !== undefined);
}

/** One line per blockwise image: blocks done / blocks to do, per block stage (skipped blocks counted). */
export function formatBlockProgress(b: BlockwiseProgress): string {
  const l = b.layout;
  const head = l ? `${b.name}: ${l.rows}×${l.cols} blocks of ${l.blockSize}` : b.name;
  if (!b.stages) return `  ${head}`;
  const stages = BLOCK_STAGES.map((s) => {
    const c = b.stages![s];
    const notes = [c.running ? `${c.running} running` : '', c.skipped ? `${c.skipped} skipped` : ''].filter(Boolean);
    return `${s} ${c.done}/${c.total}${notes.length ? ` (${notes.join(', ')})` : ''}`;
  });
  return `  ${head}: ${stages.join(', ')}`;
}
