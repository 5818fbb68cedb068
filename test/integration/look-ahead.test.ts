import { Client, Connection } from '@temporalio/client';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { activitySpans, type ActivitySpan } from '../../infra/temporal/activity-spans';
import type { DevServer } from '../../infra/temporal/dev-server';
import { taskQueuesFromEnv } from '../../core/config/temporal';
import { startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import type { RunSummary } from '../../core/contracts';

/**
 * Tasks held ahead, on a real dev server through `tessel worker --cpu-slots 1 --look-ahead N`: with a
 * look-ahead of 1 the CPU queue's activities overlap in the histories (the next one was started, i.e.
 * taken by the worker, before the last one closed), never more than two deep (one running, one held);
 * with 0 they never overlap. The run's outputs are complete either way.
 */
jest.setTimeout(600_000);

let server: DevServer;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  ({ server, env, dir } = await startTestServer());
  expect((await tessel(['synth', join(dir, 'ws'), '--images', '6', '--size', '48', '--channels', '4', '--seed', '8'])).code).toBe(0);
});

afterAll(async () => {
  await server?.stop();
});

/** The most CPU-queue activities held at once by the worker over the run, from the histories. */
async function cpuDepth(runId: string, names: string[]): Promise<number> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
  let spans: ActivitySpan[];
  try {
    spans = await activitySpans(new Client({ connection }), [runId, ...names.map((n) => `${runId}--${n}`)].map((id) => ({ id })));
  } finally {
    await connection.close();
  }
  const marks = spans.filter((s) => s.queue === taskQueuesFromEnv().cpu).flatMap((s) => [{ t: s.started, d: +1 }, { t: s.closed, d: -1 }]);
  // Closes before starts at the same instant: a slot released then taken again is not an overlap.
  marks.sort((a, b) => a.t - b.t || a.d - b.d);
  let depth = 0;
  let max = 0;
  for (const m of marks) max = Math.max(max, (depth += m.d));
  return max;
}

async function runWith(lookAhead: number, extra: string[] = []): Promise<number> {
  const worker = await startWorker(['--queue', 'all', '--cpu-slots', '1', '--gpu-slots', '1', '--look-ahead', String(lookAhead)], env);
  try {
    const runId = `it-look-ahead-${lookAhead}-${Date.now()}`;
    const res = await tessel(['run', 'workspace', join(dir, 'ws'), '--run-id', runId, '--json', ...extra], env);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout) as RunSummary;
    expect(summary.images).toMatchObject({ total: 6, done: 6, failed: 0 });
    expect(summary.stages.record.done).toBe(6);
    const names = readdirSync(join(dir, 'ws', 'OMETIFF')).map((f) => f.split('.')[0]);
    return await cpuDepth(runId, names);
  } finally {
    await stopChild(worker);
  }
}

it('a one-slot CPU worker holds one activity ahead with --look-ahead 1, none with 0', async () => {
  expect(await runWith(1)).toBe(2);
  expect(await runWith(0, ['--force'])).toBe(1);
});
