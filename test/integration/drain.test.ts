/**
 * SIGTERM during an activity, as Kubernetes sends it before a pod goes (real dev server, real worker
 * processes): with a grace longer than the prediction, the worker stops polling, lets it finish, and
 * exits 0; with no grace, it hands the prediction back to Temporal at once, and another worker takes it
 * long before the heartbeat timeout would have. Either way the run completes and nothing is lost.
 */
import type { Client } from '@temporalio/client';
import { join } from 'node:path';
import type { RunProgress } from '../../core/contracts';
import { heldActivity, tessel, useTestCluster, workerIdentity, type TestWorker } from '../helpers/cluster';

jest.setTimeout(600_000);

const HEARTBEAT_TIMEOUT_S = 300;
const cluster = useTestCluster();
let env: NodeJS.ProcessEnv;
let dir: string;
let client: Client;

async function worker(args: string[]) {
  return cluster.worker(args);
}

/** Starts a run of the one-image workspace `name` and waits until its prediction runs on `gpu`. */
async function runUntilPredicting(name: string, gpu: TestWorker): Promise<string> {
  const started = await tessel(['run', 'workspace', join(dir, name), '--detach', '--benchmark-sink', 'none', '--heartbeat-timeout', String(HEARTBEAT_TIMEOUT_S)], env);
  const runId = started.stdout.trim().split('\n').pop()!;
  for (let i = 0; !(await heldActivity(client, [`${runId}--tissue_000`], gpu, ['predict'])); i++) {
    if (i > 1200) throw new Error(`prediction of ${runId} never started on worker ${gpu.pid}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return runId;
}

/** The started event of the run's (last) prediction attempt. */
async function predictionStart(runId: string) {
  const events = (await client.workflow.getHandle(`${runId}--tissue_000`).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'predict')!;
  const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled.eventId))!;
  const completed = events.some((e) => e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === String(scheduled.eventId));
  return { ...started.activityTaskStartedEventAttributes!, completed };
}

const waitExit = (w: TestWorker) =>
  new Promise<number | null>((res) => (w.exitCode !== null ? res(w.exitCode) : w.once('exit', (code) => res(code))));

beforeAll(async () => {
  ({ env, dir, client } = cluster);
  // Large enough that a prediction on the CPU takes seconds, so the signal lands inside it.
  for (const name of ['finish', 'handback']) {
    expect((await tessel(['synth', join(dir, name), '--images', '1', '--size', '1024', '--channels', '4', '--seed', '8'])).code).toBe(0);
  }
  await worker(['--queue', 'workflows']);
  await worker(['--queue', 'cpu']);
});

it('lets the running activity finish within the grace, then exits 0', async () => {
  const gpu = await worker(['--queue', 'gpu', '--shutdown-grace', '120']);
  const runId = await runUntilPredicting('finish', gpu);
  expect(gpu.kill('SIGTERM')).toBe(true);
  expect(await waitExit(gpu)).toBe(0);
  expect(gpu.output()).toMatch(/SIGTERM: draining, polling stopped; 1 running activity get 120 s to finish/);
  const p = await predictionStart(runId);
  expect(p).toMatchObject({ attempt: 1, identity: workerIdentity(gpu), completed: true });
  // Its prediction done, the run needs no GPU worker any more.
  const final = JSON.parse((await tessel(['status', runId, '--wait', '--json'], env)).stdout) as RunProgress;
  expect(final).toMatchObject({ state: 'completed', images: { done: 1, failed: 0 } });
});

it('hands the running activity back when the grace runs out, and another worker does it', async () => {
  const first = await worker(['--queue', 'gpu', '--shutdown-grace', '0']);
  const runId = await runUntilPredicting('handback', first);
  const t0 = Date.now();
  first.kill('SIGTERM');
  expect(await waitExit(first)).toBe(0);
  const second = await worker(['--queue', 'gpu']);
  const final = JSON.parse((await tessel(['status', runId, '--wait', '--json'], env)).stdout) as RunProgress;
  expect(final).toMatchObject({ state: 'completed', images: { done: 1, failed: 0 } });
  const p = await predictionStart(runId);
  expect(p).toMatchObject({ attempt: 2, identity: workerIdentity(second), completed: true });
  // Handed back, not timed out: the retry came without waiting out the heartbeat timeout.
  expect(p.lastFailure?.timeoutFailureInfo).toBeFalsy();
  expect(Date.now() - t0).toBeLessThan(HEARTBEAT_TIMEOUT_S * 1000);
});
