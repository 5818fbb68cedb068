import type { ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { devServerArgs, resolveTemporalBinary } from '../../../infra/temporal/dev-server';
import { ROOT, type CliResult } from '../cluster';
import { fakeGcsServerBinary } from '../gcs-emulator';
import { Topology } from './netns';

/**
 * Tessel on separate network hosts (see netns.ts): the Temporal dev server on `temporal`, fake-gcs-server
 * on `gcs`, the client and the test's agent on `client`, and `tessel worker` processes started on any
 * host by name. Every process is started with `ip netns exec <host's namespace>` and given only the
 * hosts' addresses.
 */
const NODE_ARGS = ['--import', 'tsx', join(ROOT, 'cli', 'main.ts')];
const TEMPORAL_PORT = 7233;
const GCS_PORT = 4443;
export const BUCKET = 'tessel-hosts';

/** A process on a host; `identity` is the Temporal SDK's default worker identity for it. */
export type HostProcess = ChildProcess & { host: string; identity: string; output: () => string };

/**
 * This process's environment without anything that could send traffic elsewhere (proxies, OTLP
 * collectors, another Temporal or GCS endpoint, another env config).
 */
function isolatedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/proxy|^OTEL_|^TEMPORAL_|^STORAGE_EMULATOR_HOST$|^TESSEL_|^GOOGLE_/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** Requests to the agent on the client host (agent.ts), one line each way. */
export class Agent {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private buffer = '';
  private readonly ready: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    let onReady: () => void;
    let onFail: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((onReady = res), (onFail = rej)));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, nl)) as { id?: number; ready?: boolean; result?: unknown; error?: string };
        this.buffer = this.buffer.slice(nl + 1);
        if (msg.ready) onReady();
        const w = msg.id !== undefined ? this.waiting.get(msg.id) : undefined;
        if (!w) continue;
        this.waiting.delete(msg.id!);
        if (msg.error !== undefined) w.reject(new Error(msg.error));
        else w.resolve(msg.result);
      }
    });
    child.on('exit', (code, signal) => {
      const e = new Error(`agent exited (${code ?? signal}):\n${stderr}`);
      onFail(e);
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    });
  }

  /** One request; rejects with the agent's error, or after `timeoutMs`. */
  async call<T>(op: string, args: object, timeoutMs = 120_000): Promise<T> {
    await this.ready;
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`agent ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }
}

export class HostsCluster {
  readonly temporalAddress: string;
  readonly gcsEndpoint: string;
  /** The Tessel processes' environment: the hosts' env config (TESSEL_ENV_CONFIG), nothing else pointing anywhere. */
  readonly env: NodeJS.ProcessEnv;
  /** The local DuckDB file the runs' benchmark rows go to (one file, shared by every host's filesystem). */
  readonly benchmarksFile: string;
  agent!: Agent;
  private readonly processes: HostProcess[] = [];

  private constructor(readonly topology: Topology, readonly dir: string) {
    this.temporalAddress = `${topology.host('temporal').address}:${TEMPORAL_PORT}`;
    this.gcsEndpoint = `http://${topology.host('gcs').address}:${GCS_PORT}`;
    this.benchmarksFile = join(dir, 'BENCHMARKS', 'benchmarks.duckdb');
    // Configuration only, as on a cluster: the server, the GCS endpoint and the benchmark sink.
    const envConfig = join(dir, 'hosts-env.json');
    writeFileSync(envConfig, JSON.stringify({
      temporal: { address: this.temporalAddress, namespace: 'default' }, gcs: { api_endpoint: this.gcsEndpoint },
      benchmark_sink: { kind: 'duckdb', path: this.benchmarksFile },
    }, null, 2));
    this.env = { ...isolatedEnv(), TESSEL_ENV_CONFIG: envConfig, TESSEL_LOG_LEVEL: 'WARN' };
  }

  /**
   * Builds the hosts (`temporal`, `gcs`, `client`, then `workerHosts`), starts the server, the emulator
   * (bucket {@link BUCKET}) and the agent, and waits until the server and the bucket answer from the
   * client host. Logs go to `dir`. On failure everything made so far is torn down.
   */
  static async start(workerHosts: string[], dir: string): Promise<HostsCluster> {
    const gcsBin = fakeGcsServerBinary();
    if (!gcsBin.path) throw new Error(gcsBin.reason);
    const c = new HostsCluster(Topology.create(['temporal', 'gcs', 'client', ...workerHosts]), dir);
    try {
      const log = (name: string) => openSync(join(dir, `${name}.log`), 'a');
      // 0.0.0.0 inside the server's namespace: that host's eth0 and loopback, nothing else. Not its eth0
      // address alone: the dev server's static membership announces history and matching on 127.0.0.1
      // whatever --ip says, so bound to 10.x only, the frontend cannot reach them (connection refused).
      c.topology.spawn('temporal', resolveTemporalBinary(), devServerArgs({ port: TEMPORAL_PORT, ip: '0.0.0.0', headless: true, dbFile: join(dir, 'temporal.db') }),
        { stdio: ['ignore', log('temporal'), log('temporal')] });
      const gcs = c.topology.host('gcs').address;
      c.topology.spawn('gcs', gcsBin.path, ['-scheme', 'http', '-backend', 'memory', '-host', gcs, '-port', String(GCS_PORT), '-external-url', c.gcsEndpoint, '-log-level', 'warn'],
        { stdio: ['ignore', log('gcs'), log('gcs')] });
      const agentEnv = { ...isolatedEnv(), TEMPORAL_ADDRESS: c.temporalAddress, STORAGE_EMULATOR_HOST: c.gcsEndpoint };
      c.agent = new Agent(c.topology.spawn('client', process.execPath, ['--import', 'tsx', join(__dirname, 'agent.ts')], { cwd: ROOT, env: agentEnv, stdio: ['pipe', 'pipe', 'pipe'] }));
      await c.agent.call('waitTemporal', { namespace: 'default', timeoutMs: 90_000 }, 100_000);
      for (let i = 0; ; i++) {
        const r = await c.agent.call<{ status: number; text: string }>('fetch', { url: `${c.gcsEndpoint}/storage/v1/b`, method: 'GET' });
        if (r.status > 0 && r.status < 500) break;
        if (i > 150) throw new Error(`fake-gcs-server on ${c.gcsEndpoint} not ready: ${r.text}`);
        await new Promise((res) => setTimeout(res, 200));
      }
      const made = await c.agent.call<{ status: number; text: string }>('fetch', {
        url: `${c.gcsEndpoint}/storage/v1/b?project=tessel-emulator`, method: 'POST', body: JSON.stringify({ name: BUCKET }),
      });
      if (made.status !== 200) throw new Error(`creating bucket ${BUCKET}: HTTP ${made.status} ${made.text}`);
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  /** `tessel worker <args>` on `host`; resolves once it reports ready. Its output also goes to `<dir>/<host>.log`. */
  worker(host: string, args: string[], timeoutMs = 180_000): Promise<HostProcess> {
    const child = this.topology.spawn(host, process.execPath, [...NODE_ARGS, 'worker', ...args], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const p = Object.assign(child, { host, identity: `${child.pid}@${hostname()}`, output: () => out });
    this.processes.push(p);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker on ${host} not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
      const onData = (d: Buffer) => {
        out += d.toString();
        appendFileSync(join(this.dir, `${host}.log`), d);
        if (out.includes('worker ready')) {
          clearTimeout(timer);
          resolve(p);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker on ${host} exited with ${code ?? signal} before ready:\n${out}`));
      });
    });
  }

  /** `tessel <args>` on `host` (the client's commands), killed after `timeoutMs`. */
  tessel(host: string, args: string[], timeoutMs = 600_000): Promise<CliResult> {
    const child = this.topology.spawn(host, process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Kills every process on every host and removes the namespaces and links. */
  async stop(): Promise<void> {
    await this.topology.destroy();
  }
}
