import type { ActivityDeps } from '../activities';
import { ConfigError } from '../core/errors';
import { probeCuda } from '../core/predict/probe';
import { taskQueuesFromEnv, temporalSettingsFromEnv } from '../core/config/temporal';
import { createWorkers, type QueueKind, type RunningWorkers } from './create';
import { WorkerMetrics, freeLoopbackPort, serveMetrics, type MetricsServer } from './metrics';
import { explainStartupError } from './startup-errors';
import { otlpTracesUrl, startTracing, type TracingSettings } from './tracing';
import { packageVersion, versioningFromEnv } from './versioning';

export interface WorkerProcessOptions {
  queues: QueueKind[];
  cpuSlots?: number;
  gpuSlots?: number;
  /** Activities held ahead of the compute slots (see `WorkerOptions.lookAhead`). */
  lookAhead?: number;
  deps?: ActivityDeps;
  /** Serve `/metrics` (Tessel's and the Temporal SDK's) and `/healthz` on this port (0: any free port). */
  metricsPort?: number;
  metricsHost?: string;
  /** OTLP/HTTP traces endpoint; else `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`; none: no tracing. */
  otlpEndpoint?: string;
  /** Worker Versioning flags (else `TESSEL_WORKER_VERSIONING`, `TESSEL_DEPLOYMENT_NAME`, `TESSEL_BUILD_ID`). */
  versioning?: { enabled?: boolean; deploymentName?: string; buildId?: string };
  /** Seconds SIGTERM waits for running activities before handing them back (default 5). */
  shutdownGraceS?: number;
  /** Called once the workers poll their queues. */
  onReady?: (info: { address: string; namespace: string; queues: string[]; buildId?: string; metricsUrl?: string }) => void;
}

/**
 * Runs workers in this process until SIGINT/SIGTERM, then drains: no new tasks are taken, running
 * activities get `shutdownGraceS` to finish, and any still running after it are cancelled, which hands
 * them back to Temporal at once for another worker (no heartbeat timeout to wait out). A second signal
 * exits at once. Everything that can be wrong before the first poll (settings, TLS files, the server,
 * the namespace, a GPU asked for but absent) fails here with one line naming it.
 */
export async function runWorkerProcess(opts: WorkerProcessOptions): Promise<void> {
  const temporal = temporalSettingsFromEnv();
  const taskQueues = taskQueuesFromEnv();
  const versioning = versioningFromEnv(opts.versioning);
  if (opts.shutdownGraceS !== undefined && !(opts.shutdownGraceS >= 0)) throw new ConfigError(`--shutdown-grace must be ≥ 0 seconds, got ${opts.shutdownGraceS}`);
  if (opts.deps?.device === 'cuda' && opts.queues.includes('gpu')) await probeCuda();
  const url = otlpTracesUrl(opts.otlpEndpoint);
  const tracing: TracingSettings | undefined = url ? startTracing({ serviceName: `tessel-worker-${opts.queues.join('-')}`, url }) : undefined;
  const metrics = opts.metricsPort !== undefined
    ? new WorkerMetrics({ queues: opts.queues, version: packageVersion(), buildId: versioning?.buildId, deploymentName: versioning?.deploymentName })
    : undefined;
  const sdkMetricsAddress = metrics ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
  let running: RunningWorkers;
  try {
    running = await createWorkers({
      queues: opts.queues, taskQueues, temporal, cpuSlots: opts.cpuSlots, gpuSlots: opts.gpuSlots, lookAhead: opts.lookAhead, deps: opts.deps,
      versioning, metrics, sdkMetricsAddress, tracing, shutdownGraceS: opts.shutdownGraceS,
    });
  } catch (e) {
    await tracing?.shutdown().catch(() => undefined);
    throw explainStartupError(e, temporal);
  }
  let server: MetricsServer | undefined;
  try {
    if (metrics) {
      server = await serveMetrics({
        port: opts.metricsPort!, host: opts.metricsHost, metrics, sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
        healthy: () => running.workers.every((w) => w.getState() === 'RUNNING'),
      });
    }
  } catch (e) {
    await running.shutdown();
    throw e;
  }
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      process.stderr.write(`${signal} again: exiting without waiting for running activities (Temporal retries them after their heartbeat timeout)\n`);
      process.exit(130);
    }
    const slots = Object.values(running.slots).reduce((n, s) => n + s.occupancy().inUse + s.occupancy().waiting, 0);
    process.stderr.write(`${signal}: draining, polling stopped; ${slots} running activit${slots === 1 ? 'y' : 'ies'} get ${opts.shutdownGraceS ?? 5} s to finish, then go back to Temporal\n`);
    void running.shutdown();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const done = running.run();
  opts.onReady?.({ address: temporal.address, namespace: temporal.namespace, queues: opts.queues.map((q) => taskQueues[q]), buildId: versioning?.buildId, metricsUrl: server?.url });
  try {
    await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await server?.close();
    await tracing?.shutdown().catch(() => undefined);
  }
}

/** Runs a worker process for fixed queues and exits with its status (the `workers/*.ts` entry points). */
export function runEntry(queues: QueueKind[]): void {
  runWorkerProcess({ queues }).then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`tessel worker: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
