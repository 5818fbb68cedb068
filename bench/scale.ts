/**
 * Orchestration overhead at scale: N tiny images (default 500) through a real dev server with one CPU
 * and one GPU compute slot. Prints wall time ÷ the busiest queue's total activity time, where activity
 * time is the time the queue's compute slot ran an activity (every activity: discover, record, manifest
 * and finalize count too), measured by the workers' compute slots; 1.0 means the busiest queue never
 * waited on orchestration. Goal ≤ 1.15. Also prints each queue's started → closed spans from the
 * workflow histories of the same run (with a task held ahead, a span also covers its wait in the worker,
 * so spans overlap and their sum exceeds what the slot did), the stage compute from the benchmark rows,
 * the CPU seconds of the server and of this process, and where each queue's time between activities
 * went (`gapsBetweenActivities`, from the spans: dispatch, with the next task already waiting; idle,
 * with none).
 *
 * The GPU queue is played by onnxruntime on the CPU, on `--inference-threads` threads (default 1: an
 * accelerator would leave the cores to the CPU queue; on this kind of 2-core machine two inference threads
 * also fight the CPU queue and the server for them; 0: onnxruntime's default, one per core).
 *
 *   npx tsx bench/scale.ts [--images 500] [--size 64] [--inference-threads 1] [--look-ahead 1 (0: poll only when a slot is free)]
 *     [--fused-max-pixels N (default: the run's, 512²; 0: three activities)] [--encrypt (payload encryption on, with a fresh key)]
 *
 * `--encrypt` (or TESSEL_ENCRYPTION_KEY_FILE) runs with payload encryption on: workers and client share a
 * key ring, child workflow ids are opaque. Its cost is the difference in wall time against a run without.
 */
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbSink } from '../core/bench/duckdb';
import { ensureReferenceModel } from '../core/reference';
import { writeSyntheticWorkspace } from '../core/synth';
import { activitySpans, type ActivitySpan } from '../infra/temporal/activity-spans';
import { startDevServer } from '../infra/temporal/dev-server';
import { buildRunInput, workspaceLocations } from '../cli/run-input';
import { taskQueuesFromEnv } from '../core/config/temporal';
import { createWorkers } from '../workers/create';
import { RUN_WORKFLOW_TYPE, type RunSummary } from '../core/contracts';
import { ensureBenchTools } from './tools';
import { dataConverterFor, KEY_FILE_ENV, keyRingFromEnv } from '../workers/encryption';
import { codecStats } from '../workers/encryption/codec';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

async function main(): Promise<void> {
  ensureBenchTools({ reference: false }); // the Temporal CLI
  const images = arg('images', 500);
  const size = arg('size', 64);
  const dir = mkdtempSync(join(tmpdir(), 'tessel-scale-'));
  const model = await ensureReferenceModel();
  process.stderr.write(`writing ${images} images of ${size}×${size}…\n`);
  await writeSyntheticWorkspace(join(dir, 'ws'), { images, size, channels: 4, seed: 5 });
  if (process.argv.includes('--encrypt') && !process.env[KEY_FILE_ENV]) {
    writeFileSync(join(dir, 'keys'), `bench ${randomBytes(32).toString('base64')}\n`);
    process.env[KEY_FILE_ENV] = join(dir, 'keys'); // buildRunInput below then asks for opaque child ids
  }
  const encryption = keyRingFromEnv();
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db'), headless: true });
  const workers = await createWorkers({
    queues: ['workflows', 'cpu', 'gpu'], taskQueues: taskQueuesFromEnv(), temporal: { address: server.address, namespace: 'default', encryption },
    cpuSlots: 1, gpuSlots: 1, lookAhead: arg('look-ahead', 1), logLevel: 'WARN', deps: { inferenceThreads: arg('inference-threads', 1) || undefined },
  });
  const running = workers.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, dataConverter: dataConverterFor(encryption) });
  const input = buildRunInput(workspaceLocations(join(dir, 'ws'), {}), {
    imageFilter: [], model, combine: 'sum', compartment: 'both', batchSize: 8, device: 'cpu', maxConcurrent: 16,
    maxAttempts: 3, geojson: false, benchmarkSink: 'duckdb',
    fusedMaxPixels: process.argv.includes('--fused-max-pixels') ? arg('fused-max-pixels', 0) : undefined,
  });
  const cpu0 = { server: serverCpuS(server.process.pid), workers: process.cpuUsage() };
  const t0 = performance.now();
  const handle = await client.workflow.start(RUN_WORKFLOW_TYPE, { taskQueue: taskQueuesFromEnv().workflows, workflowId: input.runId, args: [input] });
  // Watch it meanwhile: TEMPORAL_ADDRESS=<address> npm run -s tessel -- status <run id>
  process.stderr.write(`run ${input.runId} on ${server.address}\n`);
  const summary = (await handle.result()) as RunSummary;
  const wallS = (performance.now() - t0) / 1000;
  const codecAtEnd = { ...codecStats };
  // Where the machine's CPU went during the run: the Temporal server (Go, SQLite) vs this process
  // (workers: activities, workflow tasks, the SDK's native core).
  const w = process.cpuUsage(cpu0.workers);
  const cpuSeconds = { server: +(serverCpuS(server.process.pid) - cpu0.server).toFixed(1), workers: +((w.user + w.system) / 1e6).toFixed(1) };
  const rows = await new DuckDbSink(join(dir, 'ws', 'BENCHMARKS', 'benchmarks.duckdb')).list({ runId: input.runId });
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  let cpuS = 0;
  let gpuS = 0;
  for (const r of rows) {
    cpuS += n(r.conversion_time_s) + n(r.postprocessing_input_load_time_s) + n(r.postprocessing_time_s) + n(r.postprocessing_output_write_time_s) + n(r.quantification_time_s);
    gpuS += n(r.prediction_input_load_time_s) + n(r.prediction_time_s) + n(r.prediction_output_write_time_s);
  }
  // Every run of the parent's continue-as-new chain (discover is in the first, finalize in the last), and
  // child ids from their histories, not summary.results: a run past one segment keeps only the last one's
  // results (and with encryption the ids do not hold the names).
  const parentRuns: string[] = [];
  const childIds: string[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${input.runId}'` })) {
    parentRuns.push(wf.runId);
    for (const e of (await client.workflow.getHandle(input.runId, wf.runId).fetchHistory()).events ?? []) {
      const id = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
      if (id) childIds.push(id);
    }
  }
  const spans = await activitySpans(client, [...parentRuns.map((runId) => ({ id: input.runId, runId })), ...childIds.map((id) => ({ id }))]);
  const queues = taskQueuesFromEnv();
  const onQueue = (q: string) => spans.filter((s) => s.queue === q);
  const spanS = (list: ActivitySpan[]) => list.reduce((sum, s) => sum + (s.closed - s.started) / 1000, 0);
  const byType = new Map<string, number>();
  for (const s of spans) byType.set(s.type, (byType.get(s.type) ?? 0) + (s.closed - s.started) / 1000);
  const cpuSpans = spanS(onQueue(queues.cpu));
  const gpuSpans = spanS(onQueue(queues.gpu));
  const cpu = workers.slots.cpu!.stats();
  const gpu = workers.slots.gpu!.stats();
  const busiest = Math.max(cpu.busyS, gpu.busyS);
  // Bounded history: every run in the parent's continue-as-new chain, with its event count.
  const segments: { status: string; events: number }[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${input.runId}'` })) {
    const h = await client.workflow.getHandle(input.runId, wf.runId).fetchHistory();
    segments.push({ status: wf.status.name, events: h.events?.length ?? 0 });
  }
  // With --encrypt: every payload this process (workers and client) encrypted or decrypted, and the time
  // that took, against the run's wall time.
  const codec = encryption ? { payloads: codecAtEnd.payloads, mib: +(codecAtEnd.bytes / 2 ** 20).toFixed(2), seconds: +codecAtEnd.seconds.toFixed(3), shareOfWall: +(codecAtEnd.seconds / wallS).toFixed(4) } : undefined;
  console.log(JSON.stringify({ images, size, encrypted: encryption !== undefined, codec, done: summary.images.done, parentSegments: segments.length,
    maxParentHistoryEvents: Math.max(...segments.map((x) => x.events)), failed: summary.images.failed,
    stageDone: Object.fromEntries(Object.entries(summary.stages).map(([k, v]) => [k, v.done])), wallS: +wallS.toFixed(2),
    cpuQueueActivityS: +cpu.busyS.toFixed(2), gpuQueueActivityS: +gpu.busyS.toFixed(2), ratioWallToBusiestQueue: +(wallS / busiest).toFixed(3),
    heldAhead: { cpu: { activities: cpu.heldAhead, seconds: +cpu.heldS.toFixed(2) }, gpu: { activities: gpu.heldAhead, seconds: +gpu.heldS.toFixed(2) } },
    historySpansS: { cpu: +cpuSpans.toFixed(2), gpu: +gpuSpans.toFixed(2) },
    historySpansByTypeS: Object.fromEntries([...byType].map(([k, v]) => [k, +v.toFixed(2)])),
    stageComputeFromRows: { cpuS: +cpuS.toFixed(2), gpuS: +gpuS.toFixed(2) }, cpuSeconds,
    gapsBetweenActivities: { cpu: gaps(onQueue(queues.cpu)), gpu: gaps(onQueue(queues.gpu)) } }));
  await connection.close();
  await workers.shutdown();
  await running;
  await server.stop();
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where there is none. */
function serverCpuS(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/**
 * Where a one-slot queue's time between activities went: `dispatchS`, gaps while the next task was
 * already scheduled (the server handing it over, the worker polling again); `idleS`, gaps with nothing
 * scheduled yet (waiting on the other queue, or on workflow tasks that schedule the next activity).
 */
function gaps(spans: ActivitySpan[]): { dispatchS: number; idleS: number } {
  const sorted = [...spans].sort((a, b) => a.started - b.started);
  let dispatch = 0;
  let idle = 0;
  for (let i = 1; i < sorted.length; i++) {
    const free = sorted[i - 1].closed;
    const { scheduled, started } = sorted[i];
    if (started <= free) continue;
    idle += Math.max(0, Math.min(scheduled, started) - free);
    dispatch += started - Math.max(free, scheduled);
  }
  return { dispatchS: +(dispatch / 1000).toFixed(2), idleS: +(idle / 1000).toFixed(2) };
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
