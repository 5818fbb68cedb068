import { STAGES, type RunSummary, type Stage } from '../core/contracts';
import type { RuntimeLog } from '../workers/logging';

/** The end-of-run report: counts, failures with causes, cells, time per stage, where outputs are. */
export function formatSummary(s: RunSummary, extra: { outputs?: Record<string, string>; uiUrl?: string; wallS?: number; peakMemoryGb?: number; log?: RuntimeLog } = {}): string {
  const lines: string[] = [];
  lines.push(`Run ${s.runId}: ${s.state}`);
  const skipped = s.images.skipped ? `, ${s.images.skipped} skipped (outputs already complete; --force redoes them)` : '';
  lines.push(`  images: ${s.images.done} done, ${s.images.failed} failed${skipped}, ${s.images.total} total`);
  lines.push(`  cells found: ${s.cells}`);
  const ranClassify = s.results.some((r) => r.stageSeconds.classify !== undefined) || (s.stageTotals?.classify?.images ?? 0) > 0;
  const perStage = STAGES.filter((st) => st !== 'record' && (st !== 'classify' || ranClassify)).map((st: Stage) => {
    const secs = s.results.map((r) => r.stageSeconds[st]).filter((x): x is number => typeof x === 'number');
    const { seconds: total, images } = s.stageTotals?.[st] ?? { seconds: secs.reduce((a, b) => a + b, 0), images: secs.length };
    return `${st} ${total.toFixed(1)} s${images ? ` (mean ${(total / images).toFixed(2)} s)` : ''}`;
  });
  lines.push(`  time per stage (sum over images): ${perStage.join(', ')}`);
  if (extra.wallS !== undefined) lines.push(`  wall time: ${extra.wallS.toFixed(1)} s`);
  if (extra.peakMemoryGb !== undefined) lines.push(`  peak memory (this process: server client and all workers): ${extra.peakMemoryGb.toFixed(2)} GB`);
  if (s.failures.length) {
    lines.push('  failed images:');
    for (const f of s.failures) lines.push(`    ${f.name} (${f.imageUri}) at ${f.stage ?? '?'}: ${f.error}`);
    if (s.failuresOmitted) lines.push(`    … and ${s.failuresOmitted} more (each in jobs/manifests/<name>.json and its benchmark row)`);
  }
  const warned = s.results.filter((r) => r.warnings?.length);
  for (const r of warned) lines.push(`  warning ${r.name}: ${r.warnings!.join('; ')}`);
  if (extra.outputs) {
    lines.push('  outputs:');
    for (const [k, v] of Object.entries(extra.outputs)) lines.push(`    ${k.padEnd(12)} ${v}`);
  }
  if (s.projectUri) lines.push(`  QuPath project: ${s.projectUri}`);
  if (s.summaryUri) lines.push(`  run summary: ${s.summaryUri}`);
  if (extra.log?.file) {
    const { WARN: warnings, ERROR: errors } = extra.log.counts;
    const counted = [errors && `${errors} error${errors > 1 ? 's' : ''}`, warnings && `${warnings} warning${warnings > 1 ? 's' : ''}`].filter(Boolean).join(', ');
    lines.push(`  worker log: ${extra.log.file} (${counted || 'no warnings'})`);
  }
  if (extra.uiUrl) lines.push(`  Temporal Web UI: ${extra.uiUrl}/namespaces/default/workflows/${encodeURIComponent(s.runId)}`);
  return lines.join('\n');
}
