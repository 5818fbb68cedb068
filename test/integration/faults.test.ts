import type { Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../../infra/temporal/dev-server';
import { killHard, killHolding, listFiles, startWorker, tessel, useTestCluster } from '../helpers/cluster';
import { imageWorkflowId, progressQuery, type RunProgress, type RunSummary } from '../../core/contracts';

/**
 * Crash survival on a real dev server, driven by the operator's commands (`tessel worker`, `tessel run
 * --detach`, `tessel status --wait --json`, `tessel cancel`): kill -9 of the GPU worker and of the CPU
 * worker mid-run, and a server stop/restart on the same SQLite file. The run must finish with outputs
 * byte-identical to a clean run's (which took the three-activity path for the last stages), each present
 * once, and no temporary files.
 */
jest.setTimeout(900_000);

const cluster = useTestCluster();
let server: DevServer;
let env: NodeJS.ProcessEnv;
let dir: string;
let client: Client;
const FAST = ['--heartbeat-timeout', '5', '--max-concurrent', '2', '--batch-size', '2'];

const sha = (s: string) => createHash('sha256').update(s, 'latin1').digest('hex');

async function waitFor(runId: string, pred: (p: RunProgress) => boolean, timeoutMs = 300_000): Promise<RunProgress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await client.workflow.getHandle(runId).query(progressQuery).catch(() => undefined);
    if (p && pred(p)) return p;
    if (Date.now() > deadline) throw new Error(`timed out waiting on ${runId}: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** kill -9, and wait until the process is really gone. */
async function kill(w: Awaited<ReturnType<typeof startWorker>>): Promise<void> {
  expect(await killHard(w)).toBe('SIGKILL');
}

async function worker(queue: string) {
  return cluster.worker(['--queue', queue]);
}

beforeAll(async () => {
  ({ server, env, dir, client } = cluster);
  const synth = await tessel(['synth', join(dir, 'clean'), '--images', '4', '--size', '384', '--channels', '4', '--seed', '11']);
  expect(synth.code).toBe(0);
  cpSync(join(dir, 'clean'), join(dir, 'fault'), { recursive: true });
  cpSync(join(dir, 'clean'), join(dir, 'cancel'), { recursive: true });
});

it('survives kill -9 of GPU and CPU workers and a server restart, with outputs identical to a clean run', async () => {
  let workflowWorker = await worker('workflows');
  let cpu = await worker('cpu');
  let gpu = await worker('gpu');
  // The clean run takes the three-activity path (postprocess, quantify, record); the faulted one runs these
  // small images' last stages as one activity (the default): the outputs must not tell them apart.
  const clean = await tessel(['run', 'workspace', join(dir, 'clean'), '--json', '--fused-max-pixels', '0', ...FAST], env);
  const cleanSummary = JSON.parse(clean.stdout) as RunSummary;
  expect(cleanSummary.images).toMatchObject({ done: 4, failed: 0 });

  const started = await tessel(['run', 'workspace', join(dir, 'fault'), '--detach', ...FAST], env);
  expect(started.code).toBe(0);
  const runId = started.stdout.trim().split('\n').pop()!;

  // Each worker dies holding an image's task (frozen while the server shows it held, however fast the task).
  const children = readdirSync(join(dir, 'fault', 'OMETIFF')).map((f) => imageWorkflowId(runId, f.split('.')[0], 0, false));
  await killHolding(client, children, gpu, ['predict']);
  gpu = await worker('gpu');
  await killHolding(client, children, cpu, ['fused']);
  cpu = await worker('cpu');

  // Stop the server mid-run and bring it back on the same SQLite file and port.
  await waitFor(runId, (p) => p.images.done + p.images.failed >= 1);
  const port = Number(server.address.split(':')[1]);
  await server.stop();
  server = cluster.server = await startDevServer({ port, dbFile: join(dir, 'temporal.db'), headless: true, logFile: join(dir, 'temporal.log') });
  // And the workflow worker: a fresh one must rebuild every open workflow from its history.
  await kill(workflowWorker);
  workflowWorker = await worker('workflows');

  const st = await tessel(['status', runId, '--wait', '--json'], env);
  const final = JSON.parse(st.stdout) as RunProgress;
  expect(final.state).toBe('completed');
  expect(final.images).toMatchObject({ done: 4, failed: 0, total: 4 });
  // Retried activities send their stage events again; each still counts once.
  const exact = { done: 4, failed: 0, running: 0 };
  // No classifier in this run: its stage stays at zero.
  expect(final.stages).toEqual({ convert: exact, predict: exact, postprocess: exact, quantify: exact, classify: { done: 0, failed: 0, running: 0 }, record: exact });

  const activities = async (workflowId: string) => ((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [])
    .flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
  const name = cleanSummary.results[0].name;
  expect(await activities(`${cleanSummary.runId}--${name}`)).toEqual(['convert', 'predict', 'postprocess', 'quantify', 'record']);
  expect(await activities(`${runId}--${name}`)).toEqual(['convert', 'predict', 'fused']);

  const cleanFiles = listFiles(join(dir, 'clean')).filter((f) => !f.startsWith('jobs/') && !f.startsWith('BENCHMARKS/'));
  const faultFiles = listFiles(join(dir, 'fault')).filter((f) => !f.startsWith('jobs/') && !f.startsWith('BENCHMARKS/'));
  expect(faultFiles).toEqual(cleanFiles);
  expect(listFiles(join(dir, 'fault')).filter((f) => f.includes('.tessel-tmp-'))).toEqual([]);
  // The kills really interrupted work: the activities running at the time were retried.
  const rows = (await tessel(['bench', 'export', '--workspace', join(dir, 'fault'), '--run-id', runId, '--format', 'ndjson'])).stdout
    .trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  expect(rows).toHaveLength(4);
  const retried = (k: string) => Math.max(...rows.map((r) => r[k] ?? 1));
  expect(retried('prediction_attempts')).toBeGreaterThan(1);
  expect(Math.max(retried('postprocessing_attempts'), retried('quantification_attempts'))).toBeGreaterThan(1);

  // Byte-identical, except that the NPZ sidecars name their source image by its (different) path.
  const bytes = (ws: string, f: string) => readFileSync(join(dir, ws, f)).toString('latin1').split(join(dir, ws)).join('<workspace>');
  for (const f of cleanFiles.filter((x) => /^(NPZ_INTERMEDIATE|SEGMASK|REPORTS)\//.test(x))) {
    expect(`${f} ${sha(bytes('fault', f))}`).toBe(`${f} ${sha(bytes('clean', f))}`);
  }
});

it('cancels a run: activities stop within seconds and nothing half-written remains', async () => {
  const started = await tessel(['run', 'workspace', join(dir, 'cancel'), '--detach', ...FAST], env);
  const runId = started.stdout.trim().split('\n').pop()!;
  await waitFor(runId, (p) => p.stages.predict.running > 0 || p.stages.postprocess.running > 0);
  const t0 = Date.now();
  const res = await tessel(['cancel', runId], env);
  expect(res.code).toBe(0);
  const st = await tessel(['status', runId, '--wait', '--json'], env);
  expect((JSON.parse(st.stdout) as RunProgress).state).toBe('cancelled');
  // Children are cancelled with the parent; none may still have a running activity.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const pending: string[] = [];
    for (const f of readdirSync(join(dir, 'cancel', 'OMETIFF'))) {
      const id = imageWorkflowId(runId, f.split('.')[0], 0, false);
      const d = await client.workflow.getHandle(id).describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') pending.push(id);
    }
    if (pending.length === 0) break;
    if (Date.now() > deadline) throw new Error(`children still running: ${pending.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(Date.now() - t0).toBeLessThan(30_000);
  await new Promise((r) => setTimeout(r, 1000));
  expect(listFiles(join(dir, 'cancel')).filter((f) => f.includes('.tessel-tmp-'))).toEqual([]);
});
