import {
  STAGES, type DiscoverOutput, type ImageResult, type RunProgress, type Stage, type StageCounts, type StageEvent,
} from '../core/contracts';

/** Full per-image results are kept (and returned) for runs up to this size; larger runs keep counts and failures. */
export const FULL_RESULTS_LIMIT = 200;
/** Failures listed in progress and summary; past this they are only counted, so the carried state stays small. */
export const FAILURES_LIMIT = 500;

/** What a run carries across continue-as-new, so a run of any size keeps a bounded history and payloads. */
export interface RunCarry {
  startedAtMs: number;
  listUri: string;
  total: number;
  /** Index of the next image in the discovered list. */
  cursor: number;
  settingsHash: string;
  counts: { done: number; failed: number; skipped: number; cells: number };
  failures: RunProgress['failures'];
  results: ImageResult[];
  stageCounts: Record<Stage, StageCounts>;
  /** Seconds per stage summed over images (kept for runs of any size, unlike `results`). */
  stageTotals?: RunProgress['stageTotals'];
  /** Failures beyond {@link FAILURES_LIMIT}, counted but not listed (each is in its manifest and benchmark row). */
  failuresOmitted?: number;
}

/**
 * The run's bookkeeping: counts per image and per stage, failures, stage totals and the progress that
 * `tessel status` queries. Pure (no Temporal, time passed in), so it is unit-tested on its own; the run
 * workflow feeds it stage events and image results.
 *
 * Stage events come from activities, and a retried attempt sends its events again: each (image, stage,
 * event) counts once. Only images in flight are remembered for that (dropped with the image's result;
 * the window drains before continue-as-new, so nothing needs carrying).
 */
export class RunState {
  phase: RunProgress['state'];
  /** Images whose workflow is running. */
  running = 0;
  private readonly counted = new Map<string, Set<string>>();
  /** Images running block by block: their blocks workflow, for `tessel status` to ask. */
  private readonly blockwise = new Map<string, string>();

  constructor(readonly runId: string, readonly carry: RunCarry) {
    this.phase = carry.listUri ? 'running' : 'discovering';
  }

  static start(runId: string, nowMs: number): RunState {
    const stageCounts = Object.fromEntries(STAGES.map((s) => [s, { done: 0, failed: 0, running: 0 }])) as Record<Stage, StageCounts>;
    return new RunState(runId, {
      startedAtMs: nowMs, listUri: '', total: 0, cursor: 0, settingsHash: '',
      counts: { done: 0, failed: 0, skipped: 0, cells: 0 }, failures: [], results: [], stageCounts,
    });
  }

  discovered(found: Pick<DiscoverOutput, 'listUri' | 'total' | 'settingsHash'>): void {
    Object.assign(this.carry, { listUri: found.listUri, total: found.total, settingsHash: found.settingsHash });
    this.phase = 'running';
  }

  /** Counts stage events, each (image, stage, event) once. */
  countEvents(events: readonly StageEvent[]): void {
    for (const ev of events) {
      if (ev.blocksWorkflowId) this.blockwise.set(ev.name, ev.blocksWorkflowId);
      let seen = this.counted.get(ev.name);
      if (!seen) this.counted.set(ev.name, (seen = new Set()));
      const key = `${ev.stage} ${ev.event}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.countStage(ev.stage, ev.event);
    }
  }

  /** An image's workflow ended (or the image was skipped). */
  addResult(r: ImageResult): void {
    if (r.events) this.countEvents(r.events);
    delete r.events;
    this.counted.delete(r.name);
    this.blockwise.delete(r.name);
    // The record stage's end comes in the result, not in an event.
    if (r.record) this.countStage('record', r.record.status);
    const c = this.carry;
    if (r.status === 'done') {
      c.counts.done++;
      c.counts.cells += r.cells ?? 0;
    } else if (r.status === 'skipped') c.counts.skipped++;
    else {
      c.counts.failed++;
      if (c.failures.length < FAILURES_LIMIT) {
        c.failures.push({ name: r.name, imageUri: r.imageUri, stage: r.failedStage, error: r.error ?? 'unknown error', errorType: r.errorType });
      } else c.failuresOmitted = (c.failuresOmitted ?? 0) + 1;
    }
    for (const [stage, secs] of Object.entries(r.stageSeconds) as [Stage, number][]) {
      c.stageTotals ??= {};
      const t = (c.stageTotals[stage] ??= { seconds: 0, images: 0 });
      t.seconds += secs;
      t.images++;
    }
    if (c.total <= FULL_RESULTS_LIMIT) c.results.push(r);
  }

  progress(nowMs: number): RunProgress {
    const c = this.carry;
    const { done, failed, skipped, cells } = c.counts;
    const finished = done + failed;
    const elapsedMin = (nowMs - c.startedAtMs) / 60000;
    const throughputPerMin = finished > 0 && elapsedMin > 0 ? finished / elapsedMin : undefined;
    const remaining = c.total - finished - skipped;
    return {
      runId: this.runId,
      state: this.phase,
      images: { total: c.total, done, failed, running: this.running, pending: Math.max(0, remaining - this.running), skipped },
      stages: c.stageCounts,
      failures: c.failures,
      failuresOmitted: c.failuresOmitted || undefined,
      stageTotals: c.stageTotals,
      cells,
      startedAtMs: c.startedAtMs,
      throughputPerMin,
      etaS: throughputPerMin && remaining > 0 ? (remaining / throughputPerMin) * 60 : undefined,
      blockwise: this.blockwise.size > 0 ? [...this.blockwise].map(([name, workflowId]) => ({ name, workflowId })) : undefined,
    };
  }

  /** The state to continue as new with: nothing runs across the boundary. */
  carryForward(): RunCarry {
    const stageCounts = Object.fromEntries(Object.entries(this.carry.stageCounts).map(([k, v]) => [k, { ...v, running: 0 }]));
    return { ...this.carry, stageCounts: stageCounts as Record<Stage, StageCounts> };
  }

  /** After finalize: failed when every image failed, else completed. */
  finish(): void {
    this.phase = this.carry.total > 0 && this.carry.counts.failed === this.carry.total ? 'failed' : 'completed';
  }

  private countStage(stage: Stage, event: StageEvent['event']): void {
    const counts = this.carry.stageCounts[stage];
    if (event === 'started') counts.running++;
    else {
      counts.running = Math.max(0, counts.running - 1);
      if (event === 'done') counts.done++;
      else counts.failed++;
    }
  }
}
