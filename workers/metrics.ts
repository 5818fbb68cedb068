import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { storageTraffic } from '../core/storage';
import { ConfigError } from '../core/errors';
import type { ComputeSlots } from './compute-slots';
import { STAGES } from '../core/contracts';

/**
 * Which pipeline stage each activity is, and whether it works on a whole image or on one block of one.
 * Activities not listed (discovery, finalize) are bookkeeping and are not counted per stage. Block-wise
 * activities join this table, as `unit: 'block'`, when they are added.
 */
export const STAGE_ACTIVITIES: Readonly<Record<string, { stage: string; unit: 'image' | 'block' }>> = {
  // Each stage's activity has the stage's name (docs/architecture.md).
  ...Object.fromEntries(STAGES.map((stage) => [stage, { stage, unit: 'image' as const }])),
  // the stages after predict as one activity (small images): counted under its first stage;
  // its result carries each stage's own timings, which the phase histograms take apart.
  fused: { stage: 'postprocess', unit: 'image' },
};/** How an activity attempt ended, as the `outcome` label. */
export type StageOutcome = 'completed' | 'failed' | 'retryable_error' | 'cancelled';

/** `failed`: a permanent error (the image fails at this stage); `retryable_error`: Temporal tries again. */
export function outcomeOf(e: unknown): StageOutcome {
  if (e instanceof CancelledFailure) return 'cancelled';
  if (e instanceof ApplicationFailure && e.nonRetryable) return 'failed';
  return 'retryable_error';
}

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

interface StageTimings { stage: string; inputLoadS: number; timeS: number; outputWriteS: number; queueWaitS: number }

function isStageTimings(v: unknown): v is StageTimings {
  return typeof v === 'object' && v !== null && typeof (v as StageTimings).stage === 'string' && typeof (v as StageTimings).timeS === 'number';
}

/** The stage timings an activity returned: itself (one stage) or its fields (the fused activity). */
function stageTimings(result: unknown): StageTimings[] {
  if (isStageTimings(result)) return [result];
  if (typeof result !== 'object' || result === null) return [];
  return Object.values(result).filter(isStageTimings);
}

export interface WorkerInfo { queues: string[]; version: string; buildId?: string; deploymentName?: string }

/**
 * Tessel's own Prometheus metrics for one worker process (prom-client): stage items by stage, unit and
 * outcome, stage durations, phase and queue-wait histograms, compute slots in use and activities waiting
 * for one (per queue: the GPU queue's are the GPU slots), bytes read and written by scheme, and the
 * Node.js process defaults. The Temporal SDK's own metrics are served beside them by {@link serveMetrics}.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly items: Counter<'stage' | 'unit' | 'outcome'>;
  private readonly duration: Histogram<'stage' | 'outcome'>;
  private readonly phase: Histogram<'stage' | 'phase'>;
  private readonly queueWait: Histogram<'stage'>;
  private readonly slots = new Map<string, ComputeSlots>();

  constructor(info: WorkerInfo) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'tessel_worker_info', help: 'Constant 1, labelled with what this worker runs', registers,
      labelNames: ['queues', 'version', 'build_id', 'deployment'],
    }).set({ queues: info.queues.join(','), version: info.version, build_id: info.buildId ?? '', deployment: info.deploymentName ?? '' }, 1);
    this.items = new Counter({
      name: 'tessel_stage_items_total', help: 'Stage activity attempts that ended, by stage, unit (image or block) and outcome',
      labelNames: ['stage', 'unit', 'outcome'], registers,
    });
    this.duration = new Histogram({
      name: 'tessel_stage_duration_seconds', help: 'Wall time of a stage activity attempt inside its compute slot',
      labelNames: ['stage', 'outcome'], buckets: DURATION_BUCKETS, registers,
    });
    this.phase = new Histogram({
      name: 'tessel_stage_phase_seconds', help: 'Time a completed stage spent loading input, computing and writing output',
      labelNames: ['stage', 'phase'], buckets: DURATION_BUCKETS, registers,
    });
    this.queueWait = new Histogram({
      name: 'tessel_stage_queue_wait_seconds', help: 'Time from scheduling to start of a completed stage attempt (backlog plus tasks held ahead)',
      labelNames: ['stage'], buckets: DURATION_BUCKETS, registers,
    });
    const slots = this.slots;
    new Gauge({
      name: 'tessel_compute_slots', help: 'Compute slots of this worker per task queue kind (gpu: prediction slots)', labelNames: ['queue'], registers,
      collect() { for (const [q, s] of slots) this.set({ queue: q }, s.slots); },
    });
    new Gauge({
      name: 'tessel_compute_slots_in_use', help: 'Compute slots running an activity now', labelNames: ['queue'], registers,
      collect() { for (const [q, s] of slots) this.set({ queue: q }, s.occupancy().inUse); },
    });
    new Gauge({
      name: 'tessel_compute_slots_waiting', help: 'Activities in this worker waiting for a compute slot (taken ahead)', labelNames: ['queue'], registers,
      collect() { for (const [q, s] of slots) this.set({ queue: q }, s.occupancy().waiting); },
    });
    this.storageCounter('tessel_storage_read_bytes_total', 'Bytes read through the storage layer, by scheme (file, gs)', 'readBytes');
    this.storageCounter('tessel_storage_written_bytes_total', 'Bytes written through the storage layer, by scheme (file, gs)', 'writtenBytes');
  }

  /** Reports these compute slots under `queue` (cpu or gpu). */
  watchSlots(queue: string, slots: ComputeSlots): void {
    this.slots.set(queue, slots);
  }

  /** One ended stage activity attempt. */
  observe(activityType: string, outcome: StageOutcome, seconds: number, result?: unknown): void {
    const known = STAGE_ACTIVITIES[activityType];
    if (!known) return;
    this.items.inc({ stage: known.stage, unit: known.unit, outcome });
    this.duration.observe({ stage: known.stage, outcome }, seconds);
    for (const t of stageTimings(result)) {
      this.phase.observe({ stage: t.stage, phase: 'input_load' }, t.inputLoadS);
      this.phase.observe({ stage: t.stage, phase: 'compute' }, t.timeS);
      this.phase.observe({ stage: t.stage, phase: 'output_write' }, t.outputWriteS);
      if (typeof t.queueWaitS === 'number') this.queueWait.observe({ stage: t.stage }, t.queueWaitS);
    }
  }

  /** The activity interceptor that feeds {@link observe}; innermost, so it times the work, not a slot wait. */
  interceptor(): ActivityInterceptorsFactory {
    return (ctx) => ({
      inbound: {
        execute: async (input, next) => {
          const t0 = performance.now();
          const type = ctx.info.activityType;
          try {
            const result = await next(input);
            this.observe(type, 'completed', (performance.now() - t0) / 1000, result);
            return result;
          } catch (e) {
            this.observe(type, ctx.cancellationSignal.aborted ? 'cancelled' : outcomeOf(e), (performance.now() - t0) / 1000);
            throw e;
          }
        },
      },
    });
  }

  /** The exposition text of Tessel's metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** A counter that follows core's storage traffic totals (read when scraped). */
  private storageCounter(name: string, help: string, key: 'readBytes' | 'writtenBytes'): void {
    const seen: Record<string, number> = {};
    new Counter({
      name, help, labelNames: ['scheme'], registers: [this.registry],
      collect() {
        for (const [scheme, total] of Object.entries(storageTraffic()[key])) {
          const delta = total - (seen[scheme] ?? 0);
          if (delta > 0) this.inc({ scheme }, delta);
          seen[scheme] = total;
        }
      },
    });
  }
}

export interface MetricsServer { url: string; close(): Promise<void> }

/**
 * Serves `GET /metrics` (Tessel's metrics, then the Temporal SDK's, which the SDK exposes on a loopback
 * port of its own: one scrape target per pod) and `GET /healthz` (200 while `healthy()`, else 503).
 */
export async function serveMetrics(opts: {
  port: number; host?: string; metrics: WorkerMetrics; sdkMetricsUrl?: string; healthy: () => boolean;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      void (async () => {
        let body = await opts.metrics.text();
        if (opts.sdkMetricsUrl) {
          try {
            const sdk = await fetch(opts.sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
            body += `\n${await sdk.text()}`;
          } catch (e) {
            body += `\n# Temporal SDK metrics unavailable: ${(e as Error).message}\n`;
          }
        }
        res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
        res.end(body);
      })().catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    } else if (req.method === 'GET' && path === '/healthz') {
      const ok = opts.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not running\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const host = opts.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? new ConfigError(`--metrics-port ${opts.port}: port already in use on ${host}`)
      : new ConfigError(`--metrics-port ${opts.port}: cannot listen on ${host} (${e.message})`)));
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A free TCP port on 127.0.0.1, for the SDK's own exporter behind {@link serveMetrics}. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createTcpServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
