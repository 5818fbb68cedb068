/**
 * Orchestration overhead at scale: N tiny images (default 500) through a real dev server with one CPU
 * and one GPU slot. Prints wall time ÷ the busiest queue's total activity time (from the benchmark
 * rows of the same run); 1.0 means the busiest queue never waited on orchestration. Goal ≤ 1.15.
 *
 *   npx tsx bench/scale.ts [--images 500] [--size 64]
 */
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbSink } from '../core/bench/duckdb';
import { ensureReferenceModel } from '../core/model/reference';
import { writeSyntheticWorkspace } from '../core/synth';
import { startDevServer } from '../infra/temporal/dev-server';
import { buildRunInput, workspaceLocations } from '../cli/run-input';
import { taskQueuesFromEnv } from '../workers/connection';
import { createWorkers } from '../workers/create';
import type { RunSummary } from '../workflows/types';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

async function main(): Promise<void> {
  const images = arg('images', 500);
  const size = arg('size', 64);
  const dir = mkdtempSync(join(tmpdir(), 'tessel-scale-'));
  const model = await ensureReferenceModel();
  process.stderr.write(`writing ${images} images of ${size}×${size}…\n`);
  await writeSyntheticWorkspace(join(dir, 'ws'), { images, size, channels: 4, seed: 5 });
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db'), headless: true });
  const workers = await createWorkers({
    queues: ['workflows', 'cpu', 'gpu'], taskQueues: taskQueuesFromEnv(), temporal: { address: server.address, namespace: 'default' },
    cpuSlots: 1, gpuSlots: 1,
  });
  const running = workers.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const input = buildRunInput(workspaceLocations(join(dir, 'ws'), {}), {
    imageFilter: [], model, combine: 'sum', compartment: 'both', batchSize: 8, device: 'cpu', maxConcurrent: 16,
    maxAttempts: 3, geojson: false, benchmarkSink: 'duckdb',
  });
  const t0 = performance.now();
  const handle = await client.workflow.start('segmentAndMeasure', { taskQueue: taskQueuesFromEnv().workflows, workflowId: input.runId, args: [input] });
  const summary = (await handle.result()) as RunSummary;
  const wallS = (performance.now() - t0) / 1000;
  const rows = await new DuckDbSink(join(dir, 'ws', 'BENCHMARKS', 'benchmarks.duckdb')).list({ runId: input.runId });
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  let cpuS = 0;
  let gpuS = 0;
  for (const r of rows) {
    cpuS += n(r.conversion_time_s) + n(r.postprocessing_input_load_time_s) + n(r.postprocessing_time_s) + n(r.postprocessing_output_write_time_s) + n(r.quantification_time_s);
    gpuS += n(r.prediction_input_load_time_s) + n(r.prediction_time_s) + n(r.prediction_output_write_time_s);
  }
  const busiest = Math.max(cpuS, gpuS);
  console.log(JSON.stringify({ images, size, done: summary.images.done, failed: summary.images.failed, wallS: +wallS.toFixed(2),
    cpuQueueActivityS: +cpuS.toFixed(2), gpuQueueActivityS: +gpuS.toFixed(2), ratioWallToBusiestQueue: +(wallS / busiest).toFixed(3) }));
  await connection.close();
  await workers.shutdown();
  await running;
  await server.stop();
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
