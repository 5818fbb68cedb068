import { ApplicationFailure, Context, getClient, heartbeat } from '@temporalio/activity';
import { hostname } from 'node:os';
import { isTesselError } from '../core/errors';
import { stageEventSignal, type ProgressReport, type Stage, type StageMetrics } from '../core/contracts';

/** Facts about the machine a worker runs on, for benchmark rows (set by the worker from config/env). */
export interface WorkerEnvironment {
  identity: string;
  instanceType?: string;
  gpuType?: string;
  numGpus?: number;
  isPreemptible?: boolean;
}

export function defaultEnvironment(): WorkerEnvironment {
  return {
    identity: `${process.pid}@${hostname()}`,
    instanceType: process.env.TESSEL_INSTANCE_TYPE ?? 'local',
    gpuType: process.env.TESSEL_GPU_TYPE,
    numGpus: process.env.TESSEL_NUM_GPUS ? Number(process.env.TESSEL_NUM_GPUS) : undefined,
    isPreemptible: process.env.TESSEL_PREEMPTIBLE ? process.env.TESSEL_PREEMPTIBLE === 'true' : undefined,
  };
}

export interface StageContext {
  /** Cancelled when Temporal cancels the activity or the worker shuts down. */
  signal: AbortSignal;
  /** Report a fraction 0..1; sent with the next heartbeat. */
  progress(fraction: number): void;
  /** Time a phase: input load, compute or output write. */
  timer: PhaseTimer;
}

export class PhaseTimer {
  inputLoadS = 0;
  timeS = 0;
  outputWriteS = 0;
  async time<T>(phase: 'inputLoad' | 'compute' | 'outputWrite', fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const s = (performance.now() - t0) / 1000;
      if (phase === 'inputLoad') this.inputLoadS += s;
      else if (phase === 'compute') this.timeS += s;
      else this.outputWriteS += s;
    }
  }
}

/**
 * Sends an activity's stage events to the run workflow (see {@link ProgressReport}). Best effort: progress
 * reporting never fails an image (the run may be gone, or the worker's client unavailable); never rejects.
 */
export async function sendProgress(report: ProgressReport | undefined): Promise<void> {
  if (!report || report.events.length === 0) return;
  try {
    await getClient().workflow.getHandle(report.parentWorkflowId).signal(stageEventSignal, report.events);
  } catch {
    // counts in `tessel status` lag; the image goes on
  }
}

/**
 * Runs `fn` while `report` is sent, and waits for the signal before returning or throwing, so the run
 * always receives it before anything the child does next (a signal arriving after the child's result
 * would be counted as a new start).
 */
export async function alongsideProgress<T>(report: ProgressReport | undefined, fn: () => Promise<T>): Promise<T> {
  const sent = sendProgress(report);
  try {
    return await fn();
  } finally {
    await sent;
  }
}

/**
 * Runs one stage inside an activity, sending its stage events (`report`) meanwhile: heartbeats every few
 * seconds (with the last progress) from a timer, so a stage whose heavy work runs on worker threads keeps
 * its heartbeat while it computes; samples peak RSS; measures queue wait and attempt; and turns Tessel's
 * permanent errors into non-retryable failures typed by their code, so the workflow fails just that image
 * with a clear cause.
 */
export async function runStage<T extends object>(
  env: WorkerEnvironment, stage: Stage, report: ProgressReport | undefined, fn: (ctx: StageContext) => Promise<T>,
): Promise<T & StageMetrics> {
  return alongsideProgress(report, () => measuredStage(env, stage, fn));
}

async function measuredStage<T extends object>(env: WorkerEnvironment, stage: Stage, fn: (ctx: StageContext) => Promise<T>): Promise<T & StageMetrics> {
  const ctx = Context.current();
  const info = ctx.info;
  const startedAtMs = Date.now();
  const scheduled = info.currentAttemptScheduledTimestampMs ?? startedAtMs;
  let fraction = 0;
  let peakRss = process.memoryUsage.rss();
  const tick = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    heartbeat({ stage, fraction });
  };
  // The first heartbeat goes out after 2 s, not at once: a stage that ends sooner (tiny images) costs
  // the server no heartbeat write, and 2 s is far inside any heartbeat timeout.
  const interval = setInterval(tick, 2000);
  const timer = new PhaseTimer();
  try {
    const out = await fn({
      signal: ctx.cancellationSignal,
      progress: (f) => {
        fraction = f;
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      },
      timer,
    });
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    return {
      ...out,
      stage,
      startedAtMs,
      inputLoadS: timer.inputLoadS,
      timeS: timer.timeS,
      outputWriteS: timer.outputWriteS,
      peakMemoryGb: peakRss / 1e9,
      queueWaitS: Math.max(0, (startedAtMs - scheduled) / 1000),
      attempt: info.attempt,
      worker: env.identity,
      instanceType: env.instanceType,
      gpuType: env.gpuType,
      numGpus: env.numGpus,
      isPreemptible: env.isPreemptible,
    };
  } catch (e) {
    throw toFailure(e);
  } finally {
    clearInterval(interval);
  }
}

/** Permanent Tessel errors become non-retryable ApplicationFailures of type = error code. */
export function toFailure(e: unknown): unknown {
  if (e instanceof ApplicationFailure) return e;
  if (isTesselError(e)) {
    const details = e.file ? [{ file: e.file, code: e.code }] : [{ code: e.code }];
    return e.retryable
      ? ApplicationFailure.retryable(e.message, e.code, ...details)
      : ApplicationFailure.nonRetryable(e.message, e.code, ...details);
  }
  return e;
}
