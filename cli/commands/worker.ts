import { Command, InvalidArgumentError, Option } from 'commander';
import { runWorkerProcess, type WorkerProcessOptions } from '../../workers/process';
import type { QueueKind } from '../../workers/create';
import { ConfigError } from '../../core/errors';
import { activeEnvConfig } from '../env-config';

/** Flag parsers that name the flag when a value is out of range (commander prints `option '--x' argument 'v' is invalid. …`). */
const intIn = (min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
  return n;
};
const numberIn = (min: number, max: number, what: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= min || n > max) throw new InvalidArgumentError(`must be ${what}`);
  return n;
};

export interface WorkerFlags {
  queue: string; cpuSlots?: number; gpuSlots?: number; gpuMemoryGb?: number; predictionMemoryGb?: number; device?: 'cpu' | 'cuda';
  inferenceThreads?: number; lookAhead: number; metricsPort?: number; metricsHost?: string; otlpEndpoint?: string;
  workerVersioning?: boolean; deploymentName?: string; buildId?: string; shutdownGrace?: number;
}

/** The `tessel worker` command's flags (its action is set by {@link register}; tests parse manifests' args with it). */
export function workerCommand(): Command {
  return new Command('worker')
    .description('Run Temporal workers until interrupted (SIGTERM drains: see --shutdown-grace). Honours TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (and TEMPORAL_API_KEY or\n' +
      'TEMPORAL_TLS_CERT/KEY), TESSEL_QUEUE_WORKFLOWS/_CPU/_GPU, TESSEL_INSTANCE_TYPE (priced by the env config\'s price_table), or --env-config. A GPU worker holds its ONNX sessions for its lifetime.')
    .addOption(new Option('--queue <queue>', 'which task queue(s) to serve').choices(['workflows', 'cpu', 'gpu', 'all']).default('all'))
    .option('--cpu-slots <n>', 'concurrent CPU activities (default: number of cores)', intIn(1, 1024))
    .option('--gpu-slots <n>', 'concurrent predictions (default: from --gpu-memory-gb, else 1)', intIn(1, 64))
    .option('--gpu-memory-gb <gb>', 'GPU memory budget; with --prediction-memory-gb gives the number of prediction slots', numberIn(0, 1024, 'a number of GB above 0, at most 1024'))
    .option('--prediction-memory-gb <gb>', 'memory one prediction needs (see `tessel model inspect`)', numberIn(0, 1024, 'a number of GB above 0, at most 1024'))
    .addOption(new Option('--device <device>', 'force the inference execution provider for this worker; cuda is checked at start').choices(['cpu', 'cuda']))
    .option('--inference-threads <n>', 'CPU threads for predictions on the CPU (default: one per physical core; the model runs as one single-thread session per thread, up to 4); on a machine that also serves the CPU queue, fewer leave cores to it', intIn(1, 1024))
    .option('--look-ahead <n>', 'activities a CPU or GPU worker takes ahead of its slots while its recent activities average under 5 s, so the next one is in hand when a slot frees; 0: take one only when a slot is free', intIn(0, 64), 1)
    .option('--metrics-port <port>', 'serve Prometheus metrics (Tessel\'s and the Temporal SDK\'s) on /metrics and a health check on /healthz at this port', intIn(0, 65535))
    .option('--metrics-host <host>', 'address the metrics server binds (default 0.0.0.0)')
    .option('--otlp-endpoint <url>', 'export OpenTelemetry traces over OTLP/HTTP to this URL (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; none: no tracing)')
    .option('--worker-versioning', 'join a Temporal Worker Deployment Version (workflows pinned to it); also TESSEL_WORKER_VERSIONING=1. The version receives work once made current: temporal worker deployment set-current-version')
    .option('--deployment-name <name>', 'Worker Deployment name with --worker-versioning (default TESSEL_DEPLOYMENT_NAME, else tessel)')
    .option('--build-id <id>', 'build id with --worker-versioning (default TESSEL_BUILD_ID, else <package version>-<git revision>)')
    .option('--shutdown-grace <s>', 'on SIGTERM, seconds running activities get to finish before they are handed back to Temporal for another worker (default 5)', intIn(0, 3600));
}

/** Checks flags against each other and maps them to the worker process's options. */
export function resolveWorkerOptions(o: WorkerFlags): WorkerProcessOptions {
  const queues: QueueKind[] = o.queue === 'all' ? ['workflows', 'cpu', 'gpu'] : [o.queue as QueueKind];
  if (o.predictionMemoryGb !== undefined && o.gpuMemoryGb !== undefined && o.predictionMemoryGb > o.gpuMemoryGb) {
    throw new ConfigError(`--prediction-memory-gb ${o.predictionMemoryGb} exceeds --gpu-memory-gb ${o.gpuMemoryGb}: not one prediction fits`);
  }
  let gpuSlots = o.gpuSlots;
  if (gpuSlots === undefined && o.gpuMemoryGb && o.predictionMemoryGb) gpuSlots = Math.max(1, Math.floor(o.gpuMemoryGb / o.predictionMemoryGb));
  return {
    queues, cpuSlots: o.cpuSlots, gpuSlots, lookAhead: o.lookAhead,
    deps: { device: o.device, gpuMemoryGb: o.gpuMemoryGb, inferenceThreads: o.inferenceThreads, priceTable: activeEnvConfig()?.price_table },
    metricsPort: o.metricsPort, metricsHost: o.metricsHost, otlpEndpoint: o.otlpEndpoint, shutdownGraceS: o.shutdownGrace,
    versioning: { enabled: o.workerVersioning, deploymentName: o.deploymentName, buildId: o.buildId },
  };
}

export function register(program: Command): void {
  program.addCommand(workerCommand().copyInheritedSettings(program).action(async (o: WorkerFlags) => {
    const opts = resolveWorkerOptions(o);
    await runWorkerProcess({
      ...opts,
      onReady: (i) => process.stderr.write(`worker ready: ${i.queues.join(', ')} on ${i.address} (namespace ${i.namespace})` +
        `${opts.gpuSlots ? `, ${opts.gpuSlots} prediction slot(s)` : ''}${i.buildId ? `, build ${i.buildId}` : ''}${i.metricsUrl ? `, metrics ${i.metricsUrl}` : ''}\n`),
    });
  }));
}
