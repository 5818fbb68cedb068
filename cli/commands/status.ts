import { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { connectClient, runNotFound } from '../client';
import { printJson } from '../output';
import { STAGES, progressQuery, type BlockwiseProgress, type RunProgress, type RunSummary } from '../../core/contracts';
import { blockProgressOf, formatBlockProgress } from '../block-progress';

export function register(program: Command): void {
  program.command('status <run-id>')
    .description('Show a run\'s progress: images done/failed/running, per-stage counts, failures with causes, throughput and ETA.')
    .option('--wait', 'wait until the run ends, then print its final status')
    .option('--json', 'print JSON: {runId, state, images: {done, failed, running, pending, total}, stages, failures, cells, ...}')
    .action(async (runId: string, o: { wait?: boolean; json?: boolean }) => {
      const { client, close } = await connectClient();
      try {
        const handle = client.workflow.getHandle(runId);
        let status: RunProgress;
        const desc = await handle.describe().catch((e) => runNotFound(runId, e));
        if (o.wait || desc.status.name !== 'RUNNING') {
          try {
            status = (await handle.result()) as RunSummary;
          } catch (e) {
            // Only a run that failed or was cancelled has a final status to show; anything else (payloads
            // this client cannot decode, a lost connection) is the command's own error.
            if (!(e instanceof WorkflowFailedError)) throw e;
            const state = desc.status.name === 'CANCELLED' || /cancel/i.test((e as Error).message) ? 'cancelled' : 'failed';
            const last = await handle.query(progressQuery).catch(() => undefined);
            status = last ? { ...last, state } : emptyStatus(runId, state);
            if (e instanceof WorkflowFailedError && !o.json) process.stderr.write(`run ${state}: ${e.cause?.message ?? e.message}\n`);
          }
        } else {
          status = await handle.query(progressQuery);
        }
        const { results: _r, ...compact } = status as RunSummary;
        const blocks = await blockProgressOf(client.workflow, status);
        if (o.json) printJson(blocks.length ? { ...compact, blocks } : compact);
        else process.stdout.write(formatStatus(compact, blocks) + '\n');
        if (status.state === 'failed' || status.state === 'cancelled') process.exitCode = 1;
      } finally {
        await close();
      }
    });
}

function emptyStatus(runId: string, state: RunProgress['state']): RunProgress {
  return {
    runId, state, images: { total: 0, done: 0, failed: 0, running: 0, pending: 0, skipped: 0 }, cells: 0, failures: [], startedAtMs: 0,
    stages: Object.fromEntries(STAGES.map((s) => [s, { done: 0, failed: 0, running: 0 }])) as RunProgress['stages'],
  };
}

export function formatStatus(p: RunProgress, blocks: BlockwiseProgress[] = []): string {
  const lines = [`${p.runId}: ${p.state}`,
    `  images: ${p.images.done} done, ${p.images.failed} failed, ${p.images.running} running, ${p.images.pending} pending, ${p.images.skipped} skipped (already done), ${p.images.total} total`,
    `  stages: ${STAGES.map((s) => `${s} ${p.stages[s].done} done/${p.stages[s].running} running/${p.stages[s].failed} failed`).join('; ')}`,
    `  cells: ${p.cells}`];
  if (p.throughputPerMin) lines.push(`  throughput: ${p.throughputPerMin.toFixed(1)} images/min${p.etaS ? `, ETA ${Math.round(p.etaS)} s` : ''}`);
  if (blocks.length) lines.push('  running block by block:', ...blocks.map((b) => `  ${formatBlockProgress(b)}`));
  for (const f of p.failures) lines.push(`  failed ${f.name} (${f.imageUri}) at ${f.stage ?? '?'}: ${f.error}`);
  if (p.failuresOmitted) lines.push(`  … and ${p.failuresOmitted} more failures (see jobs/manifests/ and the benchmark rows)`);
  return lines.join('\n');
}
