import {
  NativeConnection, Worker, bundleWorkflowCode, type ActivityInterceptorsFactory, type LogLevel, type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { cpus } from 'node:os';
import { createActivities, CPU_ACTIVITIES, GPU_ACTIVITIES, type ActivityDeps } from '../activities';
import { explainStartupError } from './startup-errors';
import type { TaskQueues, TemporalSettings } from '../core/config/temporal';
import { ComputeSlots, DEFAULT_LOOK_AHEAD_MAX_S } from './compute-slots';
import type { WorkerMetrics } from './metrics';
import { TRACING_WORKFLOW_MODULES, tracingActivityInterceptor, tracingSinks, type TracingSettings } from './tracing';
import type { VersioningSettings } from './versioning';
import { installRuntimeLogging, writeLogEntry, type RuntimeLogTarget } from './logging';

export { installRuntimeLogging } from './logging';

import { dataConverterFor, FAILURE_CONVERTER_PATH, type EncryptionKeyError } from './encryption';

export type QueueKind = 'workflows' | 'cpu' | 'gpu';

export interface WorkerOptions {
  queues: QueueKind[];
  taskQueues: TaskQueues;
  temporal: TemporalSettings;
  /** Concurrent CPU activities (each heavy kernel runs on its own thread). Default: cores. */
  cpuSlots?: number;
  /** Concurrent predictions on this GPU worker. Default 1; see {@link gpuSlotsFromBudget}. */
  gpuSlots?: number;
  /**
   * Activities each CPU or GPU worker holds ahead of its compute slots while its recent activities are
   * short (see {@link ComputeSlots}). Default 1; 0: poll only when a slot is free.
   */
  lookAhead?: number;
  /** Hold tasks ahead only while the recent activities average under this many seconds. Default 5. */
  lookAheadMaxS?: number;
  deps?: ActivityDeps;
  identity?: string;
  /** Runtime log level when `TESSEL_LOG_LEVEL` is unset (the first call in a process wins). */
  logLevel?: LogLevel;
  /** Join this Worker Deployment Version (Worker Versioning; workflows pinned). Default: unversioned. */
  versioning?: VersioningSettings;
  /** Tessel's Prometheus metrics: stage activities observed, compute slots reported. */
  metrics?: WorkerMetrics;
  /** Where the Temporal SDK serves its own Prometheus metrics (`host:port`; first call in a process wins). */
  sdkMetricsAddress?: string;
  /** OpenTelemetry tracing of workflows and activities. */
  tracing?: TracingSettings;
  /**
   * Seconds a shutdown (SIGTERM) waits for running activities to finish before cancelling them, which
   * hands them back to Temporal for another worker. Default 5.
   */
  shutdownGraceS?: number;
  /** Where the runtime's log lines go (default stderr; see {@link installRuntimeLogging}). */
  log?: RuntimeLogTarget;
}

export interface RunningWorkers {
  workers: Worker[];
  connection: NativeConnection;
  /** The compute slots of the CPU and GPU workers (busy time, tasks held ahead), for benchmarks. */
  slots: Partial<Record<'cpu' | 'gpu', ComputeSlots>>;
  /** Resolves when every worker has stopped (after shutdown() or a fatal error). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Workflow code bundled once per process (webpack), shared by every workflow worker in it; with
 * `tracing`, the OpenTelemetry workflow interceptors are bundled in (they add headers and spans, no
 * commands, so histories replay alike with or without them); with `encrypted`, the bundle's failure
 * converter moves failure messages into encrypted attributes.
 */
export function workflowBundle(opts: { tracing?: boolean; encrypted?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  const key = `${!!opts.tracing} ${!!opts.encrypted}`;
  let b = bundles.get(key);
  if (!b) {
    b = bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'), logger: quietLogger,
      ...(opts.tracing ? { workflowInterceptorModules: [...TRACING_WORKFLOW_MODULES] } : {}),
      ...(opts.encrypted ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
    });
    bundles.set(key, b);
  }
  return b;
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => writeLogEntry({ level: 'WARN', message: `[bundler] ${m}` }),
  error: (m: string) => writeLogEntry({ level: 'ERROR', message: `[bundler] ${m}` }),
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
  installRuntimeLogging(opts.logLevel, { ...opts.log, prometheusBindAddress: opts.sdkMetricsAddress });
  const connection = await NativeConnection.connect({
    address: opts.temporal.address,
    tls: opts.temporal.tls,
    apiKey: opts.temporal.apiKey,
  }).catch((e: unknown) => {
    throw explainStartupError(e, opts.temporal);
  });
  // A payload under a key this worker lacks fails its task with the key-id error, then the worker stops,
  // so the task's retries go to workers that hold the key instead of this one failing them all in turn.
  let keyError: EncryptionKeyError | undefined;
  const dataConverter = dataConverterFor(opts.temporal.encryption, {
    onUnknownKey: (err) => {
      if (keyError) return;
      keyError = err;
      process.stderr.write(`tessel worker: ${err.message}; stopping this worker so that other workers take the task\n`);
      setImmediate(() => void stopAll());
    },
  });
  const all = createActivities(opts.deps);
  const pick = (names: readonly string[]) =>
    Object.fromEntries(names.map((n) => [n, all[n as keyof typeof all]]));
  const workers: Worker[] = [];
  const common = {
    connection, namespace: opts.temporal.namespace, shutdownGraceTime: `${opts.shutdownGraceS ?? 5}s` as const, dataConverter,
    ...(opts.versioning ? {
      workerDeploymentOptions: { useWorkerVersioning: true as const, version: { ...opts.versioning }, defaultVersioningBehavior: 'PINNED' as const },
    } : {}),
    // The native bridge rejects an explicit `identity: undefined`; leave it out to get the SDK default.
    ...(opts.identity ? { identity: opts.identity } : {}),
  };
  if (opts.queues.includes('workflows')) {
    workers.push(await Worker.create({
      ...common, taskQueue: opts.taskQueues.workflows, workflowBundle: await workflowBundle({ tracing: !!opts.tracing, encrypted: dataConverter !== undefined }),
      maxConcurrentWorkflowTaskExecutions: 40,
      ...(opts.tracing ? { sinks: tracingSinks(opts.tracing) } : {}),
    }));
  }
  const slots: RunningWorkers['slots'] = {};
  // Activity workers poll through their ComputeSlots (a custom slot supplier, so a task can be held ahead)
  // and run each activity inside one of its compute slots.
  const computeSlots = (kind: 'cpu' | 'gpu', n: number) => {
    const s = (slots[kind] = new ComputeSlots(n, opts.lookAhead ?? 1, opts.lookAheadMaxS ?? DEFAULT_LOOK_AHEAD_MAX_S));
    opts.metrics?.watchSlots(kind, s);
    const inSlot: ActivityInterceptorsFactory = (ctx) => ({ inbound: { execute: (input, next) => s.run(ctx, () => next(input)) } });
    // Outermost first: the trace span covers a wait for a slot too, the metrics time only the work.
    const activity: ActivityInterceptorsFactory[] = [
      ...(opts.tracing ? [tracingActivityInterceptor(opts.tracing)] : []), inSlot, ...(opts.metrics ? [opts.metrics.interceptor()] : []),
    ];
    return {
      tuner: {
        activityTaskSlotSupplier: s.supplier(),
        workflowTaskSlotSupplier: { type: 'fixed-size' as const, numSlots: 1 },
        localActivityTaskSlotSupplier: { type: 'fixed-size' as const, numSlots: 1 },
        nexusTaskSlotSupplier: { type: 'fixed-size' as const, numSlots: 1 },
      },
      interceptors: { activity },
    };
  };
  if (opts.queues.includes('cpu')) {
    workers.push(await Worker.create({
      ...common, taskQueue: opts.taskQueues.cpu, activities: pick(CPU_ACTIVITIES),
      ...computeSlots('cpu', opts.cpuSlots ?? Math.max(1, cpus().length)),
    }));
  }
  if (opts.queues.includes('gpu')) {
    workers.push(await Worker.create({
      ...common, taskQueue: opts.taskQueues.gpu, activities: pick(GPU_ACTIVITIES),
      ...computeSlots('gpu', opts.gpuSlots ?? 1),
    }));
  }
  let running: Promise<void> | undefined;
  const stopAll = async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running?.catch(() => undefined); // run() reports how the workers ended
  };
  return {
    workers,
    connection,
    slots,
    run() {
      running ??= Promise.all(workers.map((w) => w.run())).then(() => {
        if (keyError) throw keyError;
      }).finally(() => connection.close());
      return running;
    },
    shutdown: stopAll,
  };
}
