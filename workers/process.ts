import type { ActivityDeps } from '../activities';
import { taskQueuesFromEnv, temporalSettingsFromEnv } from '../core/config/temporal';
import { createWorkers, type QueueKind } from './create';

export interface WorkerProcessOptions {
  queues: QueueKind[];
  cpuSlots?: number;
  gpuSlots?: number;
  /** Activities held ahead of the compute slots (see `WorkerOptions.lookAhead`). */
  lookAhead?: number;
  deps?: ActivityDeps;
  /** Called once the workers poll their queues. */
  onReady?: (info: { address: string; namespace: string; queues: string[] }) => void;
}

/**
 * Runs workers in this process until SIGINT/SIGTERM, then shuts down gracefully (in-flight activities
 * get a short grace period, then are retried elsewhere by Temporal).
 */
export async function runWorkerProcess(opts: WorkerProcessOptions): Promise<void> {
  const temporal = temporalSettingsFromEnv();
  const taskQueues = taskQueuesFromEnv();
  const running = await createWorkers({ queues: opts.queues, taskQueues, temporal, cpuSlots: opts.cpuSlots, gpuSlots: opts.gpuSlots, lookAhead: opts.lookAhead, deps: opts.deps });
  const stop = () => void running.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const done = running.run();
  opts.onReady?.({ address: temporal.address, namespace: temporal.namespace, queues: opts.queues.map((q) => taskQueues[q]) });
  try {
    await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Runs a worker process for fixed queues and exits with its status (the `workers/*.ts` entry points). */
export function runEntry(queues: QueueKind[]): void {
  runWorkerProcess({ queues }).then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`tessel worker: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
