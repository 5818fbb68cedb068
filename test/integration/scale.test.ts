import { Client, Connection } from '@temporalio/client';
import { join } from 'node:path';
import type { DevServer } from '../../infra/temporal/dev-server';
import { startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import type { RunSummary } from '../../core/contracts';

/**
 * Bounded history: a run continues as new every few images (here 3, in production 500) and still
 * finishes every image exactly once with correct totals.
 */
jest.setTimeout(600_000);

let server: DevServer;
let env: NodeJS.ProcessEnv;
let dir: string;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  ({ server, env, dir } = await startTestServer());
  expect((await tessel(['synth', join(dir, 'ws'), '--images', '7', '--size', '96', '--channels', '4', '--seed', '3'])).code).toBe(0);
  worker = await startWorker(['--queue', 'all'], env);
});

afterAll(async () => {
  if (worker) await stopChild(worker);
  await server?.stop();
});

it('continues as new across segments and completes every image once', async () => {
  const runId = `it-scale-${Date.now()}`;
  const res = await tessel(['run', 'workspace', join(dir, 'ws'), '--run-id', runId, '--json', '--children-per-segment', '3', '--max-concurrent', '2'], env);
  const summary = JSON.parse(res.stdout) as RunSummary;
  expect(summary.images).toMatchObject({ total: 7, done: 7, failed: 0, skipped: 0 });
  expect(summary.stages.quantify.done).toBe(7);
  // Per-stage time totals survive continue-as-new (large runs keep no per-image results).
  expect(summary.stageTotals?.quantify?.images).toBe(7);
  expect(summary.stageTotals?.predict?.seconds).toBeGreaterThan(0);
  expect(summary.results.map((r) => r.name).sort()).toHaveLength(7);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
  const client = new Client({ connection });
  const runs: string[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = "${runId}"` })) runs.push(wf.status.name);
  await connection.close();
  // 7 images, 3 per segment: three executions of the run workflow, two of them continued as new.
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW')).toHaveLength(2);
  expect(runs.filter((s) => s === 'COMPLETED')).toHaveLength(1);
});
