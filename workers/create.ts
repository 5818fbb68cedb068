import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { cpus } from 'node:os';
import { createActivities, CPU_ACTIVITIES, GPU_ACTIVITIES, type ActivityDeps } from '../activities';
import type { TaskQueues, TemporalSettings } from './connection';

export type QueueKind = 'workflows' | 'cpu' | 'gpu';

export interface WorkerOptions {
  queues: QueueKind[];
  taskQueues: TaskQueues;
  temporal: TemporalSettings;
  /** Concurrent CPU activities (each heavy kernel runs on its own thread). Default: cores. */
  cpuSlots?: number;
  /** Concurrent predictions on this GPU worker. Default 1; see {@link gpuSlotsFromBudget}. */
  gpuSlots?: number;
  deps?: ActivityDeps;
  identity?: string;
}

export interface RunningWorkers {
  workers: Worker[];
  connection: NativeConnection;
  /** Resolves when every worker has stopped (after shutdown() or a fatal error). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Workflow code bundled once per process (webpack), shared by every workflow worker in it. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => process.stderr.write(`[bundler] ${m}\n`),
  error: (m: string) => process.stderr.write(`[bundler] ${m}\n`),
};

/**
 * Fixed prediction slots from a GPU memory budget: ⌊budget / per-prediction estimate⌋, at least 1, so
 * concurrent predictions queue in Temporal instead of running the card out of memory.
 */
export function gpuSlotsFromBudget(budgetBytes: number, perPredictionBytes: number): number {
  if (!(perPredictionBytes > 0)) return 1;
  return Math.max(1, Math.floor(budgetBytes / perPredictionBytes));
}

/** Workers for the requested queues on one connection. */
export async function createWorkers(opts: WorkerOptions): Promise<RunningWorkers> {
  const connection = await NativeConnection.connect({
    address: opts.temporal.address,
    tls: opts.temporal.tls,
    apiKey: opts.temporal.apiKey,
  });
  const all = createActivities(opts.deps);
  const pick = (names: readonly string[]) =>
    Object.fromEntries(names.map((n) => [n, all[n as keyof typeof all]]));
  const workers: Worker[] = [];
  const common = { connection, namespace: opts.temporal.namespace, identity: opts.identity, shutdownGraceTime: '5s' as const };
  if (opts.queues.includes('workflows')) {
    workers.push(await Worker.create({
      ...common, taskQueue: opts.taskQueues.workflows, workflowBundle: await workflowBundle(),
      maxConcurrentWorkflowTaskExecutions: 40,
    }));
  }
  if (opts.queues.includes('cpu')) {
    workers.push(await Worker.create({
      ...common, taskQueue: opts.taskQueues.cpu, activities: pick(CPU_ACTIVITIES),
      maxConcurrentActivityTaskExecutions: opts.cpuSlots ?? Math.max(1, cpus().length),
    }));
  }
  if (opts.queues.includes('gpu')) {
    workers.push(await Worker.create({
      ...common, taskQueue: opts.taskQueues.gpu, activities: pick(GPU_ACTIVITIES),
      maxConcurrentActivityTaskExecutions: opts.gpuSlots ?? 1,
    }));
  }
  let running: Promise<void> | undefined;
  return {
    workers,
    connection,
    run() {
      running ??= Promise.all(workers.map((w) => w.run())).then(() => undefined).finally(() => connection.close());
      return running;
    },
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    },
  };
}
