/**
 * Worker Versioning on a real dev server, done as an operator would: workers of build A
 * (`--worker-versioning --build-id A`), `temporal worker deployment set-current-version` to A, a run
 * started; A's GPU worker stopped mid-run; build B deployed and made current, and a second run started
 * and finished on B, while B's idle GPU worker never took the first run's predictions; A's GPU worker
 * back, the first run finishes. Every workflow task and activity of the first run (parent and children)
 * ran on A's workers, pinned to A, and the second run's on B's.
 */
import type { Client } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { resolveTemporalBinary } from '../../infra/temporal/dev-server';
import type { RunProgress } from '../../core/contracts';
import { stopChild, tessel, useTestCluster, type TestWorker } from '../helpers/cluster';

jest.setTimeout(600_000);

const DEPLOYMENT = 'tessel-it';
const cluster = useTestCluster();
let env: NodeJS.ProcessEnv;
let dir: string;
let client: Client;
/** Worker identity (`pid@host`) → build id. */
const buildOf = new Map<string, string>();

async function versionedWorker(queue: string, buildId: string) {
  const w = await cluster.worker(['--queue', queue, '--worker-versioning', '--deployment-name', DEPLOYMENT, '--build-id', buildId]);
  expect(w.output()).toContain(`build ${buildId}`);
  buildOf.set(`${w.pid}@${hostname()}`, buildId);
  return w;
}

/** Workers of one build for the three queues, then that build made current. */
async function deploy(buildId: string): Promise<Record<string, TestWorker>> {
  const byQueue: Record<string, TestWorker> = {};
  for (const queue of ['workflows', 'cpu', 'gpu']) byQueue[queue] = await versionedWorker(queue, buildId);
  // The version exists once its pollers have reached the server; then make it current (bounded wait).
  const bin = resolveTemporalBinary();
  for (let i = 0; ; i++) {
    try {
      execFileSync(bin, ['worker', 'deployment', 'set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', buildId, '--yes',
        '--address', env.TEMPORAL_ADDRESS!], { stdio: 'pipe', timeout: 20_000 });
      return byQueue;
    } catch (e) {
      if (i >= 50) throw new Error(`set-current-version ${buildId}: ${(e as { stderr?: Buffer }).stderr?.toString()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Build ids of the workers that ran each workflow task and activity of one workflow, from its history. */
async function buildsThatRan(workflowId: string): Promise<Set<string>> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const ids = events.flatMap((e) => [e.workflowTaskStartedEventAttributes?.identity, e.activityTaskStartedEventAttributes?.identity]).filter(Boolean) as string[];
  return new Set(ids.map((id) => buildOf.get(id) ?? `unknown:${id}`));
}

async function pinnedTo(workflowId: string): Promise<string | undefined> {
  const d = await client.workflow.getHandle(workflowId).describe();
  const v = d.raw.workflowExecutionInfo?.versioningInfo;
  return v?.deploymentVersion?.buildId ?? undefined;
}

beforeAll(async () => {
  ({ env, dir, client } = cluster);
  expect((await tessel(['synth', join(dir, 'a'), '--images', '3', '--size', '256', '--channels', '4', '--seed', '21'])).code).toBe(0);
  cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true });
});

const progress = (runId: string) => client.workflow.getHandle(runId).query<RunProgress>('progress');

it('finishes a run on the build that started it while new runs start on the new build', async () => {
  const a = await deploy('A');
  // One image at a time, so the run is still going when B arrives.
  const first = await tessel(['run', 'workspace', join(dir, 'a'), '--detach', '--max-concurrent', '1', '--benchmark-sink', 'none'], env);
  expect(first.code).toBe(0);
  const runA = first.stdout.trim().split('\n').pop()!;
  for (let i = 0; ; i++) {
    const p = await progress(runA).catch(() => undefined);
    if (p && p.stages.convert.done >= 1) break;
    if (i > 600) throw new Error('run A made no progress');
    await new Promise((r) => setTimeout(r, 100));
  }
  // A's GPU worker goes (its prediction in hand finishes or is handed back); B arrives and is made current.
  await stopChild(a.gpu);
  await deploy('B');
  const second = await tessel(['run', 'workspace', join(dir, 'b'), '--detach', '--max-concurrent', '1', '--benchmark-sink', 'none'], env);
  const runB = second.stdout.trim().split('\n').pop()!;
  const doneB = JSON.parse((await tessel(['status', runB, '--wait', '--json'], env)).stdout) as RunProgress;
  expect(doneB).toMatchObject({ state: 'completed', images: { done: 3, failed: 0 } });
  // B's GPU worker sat idle through the end of run B, and took none of run A's pinned predictions.
  const waitingA = await progress(runA);
  expect(waitingA.state).toBe('running');
  expect(waitingA.stages.predict.done).toBeLessThan(3);
  await versionedWorker('gpu', 'A');
  const doneA = JSON.parse((await tessel(['status', runA, '--wait', '--json'], env)).stdout) as RunProgress;
  expect(doneA).toMatchObject({ state: 'completed', images: { done: 3, failed: 0 } });
  // Run A was not done when B became current (its later images started after), yet all of it ran on A.
  const children = async (runId: string) => {
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowType = 'processImage' AND WorkflowId STARTS_WITH '${runId}--'` })) ids.push(w.workflowId);
    return ids;
  };
  const childrenA = await children(runA);
  const childrenB = await children(runB);
  expect(childrenA).toHaveLength(3);
  expect(childrenB).toHaveLength(3);
  for (const id of [runA, ...childrenA]) {
    expect(`${id} ${[...(await buildsThatRan(id))].join(',')}`).toBe(`${id} A`);
    expect(`${id} ${await pinnedTo(id)}`).toBe(`${id} A`);
  }
  for (const id of [runB, ...childrenB]) {
    expect(`${id} ${[...(await buildsThatRan(id))].join(',')}`).toBe(`${id} B`);
    expect(`${id} ${await pinnedTo(id)}`).toBe(`${id} B`);
  }
});
