import cliProgress from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import { BLOCK_STAGES, STAGES, progressQuery, type BlockwiseProgress, type RunProgress, type RunSummary } from '../core/contracts';
import { blockProgressOf, formatBlockProgress } from './block-progress';

/**
 * Follows a run until it ends: a bar per stage (done+failed of total images) on a TTY, one line per change
 * otherwise. Progress comes from the run's `progress` query, so any client can follow any run.
 */
export async function followRun(handle: WorkflowHandle, opts: { quiet?: boolean; intervalMs?: number } = {}): Promise<RunSummary> {
  const tty = Boolean(process.stderr.isTTY) && !opts.quiet;
  const multibar = tty
    ? new cliProgress.MultiBar({
      stream: process.stderr, clearOnComplete: false, hideCursor: true, etaBuffer: 20,
      format: ' {stage} |{bar}| {value}/{total} images {extra}',
    }, cliProgress.Presets.shades_classic)
    : undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  let lastLine = '';
  let stopped = false;
  const resultPromise = handle.result() as Promise<RunSummary>;
  resultPromise.finally(() => (stopped = true)).catch(() => undefined);

  const render = (p: RunProgress, blocks: BlockwiseProgress[] = []) => {
    if (multibar) {
      // A bar per block stage of each image running block by block (blocks done / blocks the stage runs).
      for (const b of blocks) {
        for (const s of BLOCK_STAGES) {
          const c = b.stages?.[s];
          if (!c || c.total === 0) continue;
          const key = `${b.name} ${s}`;
          const label = `${b.name.slice(0, 14)} ${s}`.padEnd(24);
          const extra = c.skipped ? `${c.skipped} blocks skipped` : '';
          if (!bars.has(key)) bars.set(key, multibar.create(c.total, 0, { stage: label, extra }, { format: ' {stage} |{bar}| {value}/{total} blocks {extra}' }));
          bars.get(key)!.setTotal(c.total);
          bars.get(key)!.update(c.done, { stage: label, extra });
        }
      }
      for (const s of STAGES) {
        const c = p.stages[s] ?? { done: 0, failed: 0, running: 0 };
        if (s === 'classify' && !bars.has(s) && c.done + c.failed + c.running === 0) continue; // a run without a classifier
        const extra = `${c.running ? `(${c.running} running) ` : ''}${c.failed ? `${c.failed} failed` : ''}`;
        const label = s.padEnd(11);
        if (!bars.has(s)) bars.set(s, multibar.create(Math.max(1, p.images.total), 0, { stage: label, extra }));
        const bar = bars.get(s)!;
        bar.setTotal(Math.max(1, p.images.total));
        bar.update(c.done + c.failed, { stage: label, extra });
      }
    } else if (!opts.quiet) {
      const line = `[${p.state}] images ${p.images.done + p.images.failed}/${p.images.total} (${p.images.failed} failed) | ` +
        STAGES.filter((s) => s !== 'classify' || p.stages[s]?.done || p.stages[s]?.running).map((s) => `${s} ${p.stages[s]?.done ?? 0}`).join(' ') +
        blocks.map((b) => `\n${formatBlockProgress(b)}`).join('');
      if (line !== lastLine) process.stderr.write(line + '\n');
      lastLine = line;
    }
  };

  while (!stopped) {
    try {
      const p = await handle.query(progressQuery);
      render(p, await blockProgressOf(handle.client, p));
    } catch {
      // Query can fail while the workflow is between tasks or has just closed; the next poll or the result settles it.
    }
    await Promise.race([resultPromise.catch(() => undefined), new Promise((r) => setTimeout(r, opts.intervalMs ?? 500))]);
  }
  try {
    const summary = await resultPromise;
    render(summary);
    return summary;
  } finally {
    multibar?.stop();
  }
}
