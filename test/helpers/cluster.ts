import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer, type DevServer, type DevServerOptions } from '../../infra/temporal/dev-server';

export const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'cli', 'main.ts');
/**
 * `node --import tsx cli/main.ts`: one process, not the tsx wrapper that forks node, so a SIGKILL in a
 * fault test kills the worker itself rather than orphaning it.
 */
const NODE_ARGS = ['--import', 'tsx', CLI];

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `tessel <args>` as a real process (the same command an operator types). */
export function tessel(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): Promise<CliResult> {
  return runProcess(process.execPath, [...NODE_ARGS, ...args], { env, timeoutMs });
}

/** Runs a program to its end (killed after `timeoutMs`), collecting its output; env adds to this process's. */
export function runProcess(program: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: o.cwd ?? ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `tessel worker` process with what it printed so far. */
export type TestWorker = ChildProcess & { output: () => string };

/** A `tessel worker` process; resolves once it reports ready. */
export function startWorker(args: string[], env: NodeJS.ProcessEnv): Promise<TestWorker> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, 'worker', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker ready')) resolve(Object.assign(child, { output: () => out }));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`worker exited with ${code} before ready:\n${out}`)));
  });
}

/** kill -9, and wait until the process is really gone; resolves with the signal it died of. */
export async function killHard(child: ChildProcess): Promise<NodeJS.Signals | null> {
  const gone = new Promise((res) => child.once('exit', res));
  if (!child.kill('SIGKILL')) throw new Error(`could not signal process ${child.pid}`);
  await gone;
  return child.signalCode;
}

/** The identity a worker process polls Temporal with: `<pid>@<host>`, the SDK's default. */
export function workerIdentity(worker: ChildProcess): string {
  return `${worker.pid}@${hostname()}`;
}

/**
 * The started activity of one of `activityTypes` that the server shows `worker` holding in one of the
 * workflows `workflowIds`, or undefined.
 */
export async function heldActivity(client: Client, workflowIds: string[], worker: ChildProcess, activityTypes: string[]): Promise<{ workflowId: string; activityId: string } | undefined> {
  const identity = workerIdentity(worker);
  for (const workflowId of workflowIds) {
    const d = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
    const a = d?.raw.pendingActivities?.find((p) => activityTypes.includes(p.activityType?.name ?? '') && p.state === 2 /* STARTED */ && p.lastWorkerIdentity === identity);
    if (a) return { workflowId, activityId: a.activityId! };
  }
  return undefined;
}

/**
 * kill -9 of `worker` while it holds a started activity of one of `activityTypes` in one of the workflows
 * `workflowIds`, as the server sees it. Polling alone can miss a short task, and a kill between tasks
 * retries nothing, so the worker is frozen (SIGSTOP) when the server shows such a task started on it, and
 * killed only if the server still shows that task pending half a second later; otherwise it is let go
 * (SIGCONT) and the next one waited for.
 */
export async function killHolding(client: Client, workflowIds: string[], worker: ChildProcess, activityTypes: string[], timeoutMs = 300_000): Promise<void> {
  const held = () => heldActivity(client, workflowIds, worker, activityTypes);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const first = await held();
    if (first) {
      worker.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 500));
      const still = await held();
      if (still?.workflowId === first.workflowId && still.activityId === first.activityId) {
        const signal = await killHard(worker);
        if (signal !== 'SIGKILL') throw new Error(`worker ${workerIdentity(worker)} died of ${signal}, not SIGKILL`);
        return;
      }
      worker.kill('SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`worker ${workerIdentity(worker)} never held a started ${activityTypes.join(' or ')} of ${workflowIds.join(', ')} within ${timeoutMs / 1000} s`);
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(t);
      res();
    });
    child.kill(signal);
  });
}

/**
 * A dev server with SQLite persistence in a fresh temp folder, and the env that points clients at it.
 * Headless unless `opts` says otherwise (a test driving the Web UI).
 */
export async function startTestServer(opts: Partial<DevServerOptions> = {}): Promise<{ server: DevServer; dir: string; env: NodeJS.ProcessEnv }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessel-it-'));
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db'), headless: true, logFile: join(dir, 'temporal.log'), ...opts });
  return { server, dir, env: { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default' } };
}

/** What {@link useTestCluster} gives a suite; its fields are set once the suite's first `beforeAll` ran. */
export interface TestCluster {
  server: DevServer;
  dir: string;
  env: NodeJS.ProcessEnv;
  connection: Connection;
  client: Client;
  /** Starts `tessel worker …args` against the server; it is killed when the suite ends. */
  worker(args: string[]): Promise<TestWorker>;
}

/**
 * A suite's dev server (as {@link startTestServer}), a client connected to it, and the workers the suite
 * starts: set up before its tests, killed and stopped after them. Call at the top of the suite file, before
 * its own `beforeAll` (which then sees the server). A test may replace `server` (a restart).
 */
export function useTestCluster(opts: Partial<DevServerOptions> = {}): TestCluster {
  const workers: ChildProcess[] = [];
  const cluster = {
    async worker(args: string[]) {
      const w = await startWorker(args, cluster.env);
      workers.push(w);
      return w;
    },
  } as TestCluster;
  beforeAll(async () => {
    Object.assign(cluster, await startTestServer(opts));
    cluster.connection = await Connection.connect({ address: cluster.env.TEMPORAL_ADDRESS! });
    cluster.client = new Client({ connection: cluster.connection });
  });
  afterAll(async () => {
    for (const w of workers) await stopChild(w, 'SIGKILL');
    await cluster.connection?.close();
    await cluster.server?.stop();
  });
  return cluster;
}

/** Every file under `d`, as sorted paths relative to it. */
export function listFiles(d: string): string[] {
  return readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? listFiles(join(d, f)).map((x) => `${f}/${x}`) : [f])).sort();
}
