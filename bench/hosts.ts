/**
 * Throughput across network hosts: images per minute with 1, 2 and 4 CPU-worker hosts (network namespaces
 * on this machine, test/helpers/hosts/netns.ts), one GPU-worker host, and hosts for the Temporal dev
 * server, fake-gcs-server (the gs:// workspace), the workflow worker and the client, every process
 * started with `ip netns exec`. The reference is the 1-host configuration of the same invocation: the
 * ratio column is images/min ÷ that.
 *
 * What limits it, per configuration: CPU seconds of each host's processes over the run (/proc/<pid>/stat),
 * and the whole machine's busy share (/proc/stat: on a shared machine other people's work takes cores
 * too); how busy each queue's compute slots were (Tessel's own `tessel_stage_duration_seconds` from each
 * worker's /metrics, scraped from the client host: time inside a slot, so a task held ahead does not
 * count); the hand-over (each queue's mean wait from scheduled to started, from the histories); how long
 * each activity type took (grows when workers fight for the same cores); and bytes the processes wrote
 * to disk (/proc/<pid>/io: the server's SQLite, temporary files; the emulator keeps objects in memory)
 * against the machine's iowait share.
 * On a shared machine the share of the cores a run gets varies from run to run and moves images/min with
 * it; CPU seconds per image (all hosts' processes) does not, and says what a configuration costs.
 * Each configuration's CPU workers are started fresh and warmed with an unmeasured run of 2 images per
 * host first, so module loading and thread start-up are not counted.
 *
 * The GPU host runs onnxruntime on the CPU (`--inference-threads`, default 1), so here it competes for
 * the same cores as the CPU workers; on real hosts it would not. Needs root and `ip netns`.
 *
 *   npx tsx bench/hosts.ts [--hosts 1,2,4] [--images 16] [--size 320] [--cpu-slots 1] [--inference-threads 1] [--repeats 1]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '../core/contracts';
import { taskQueuesFromEnv } from '../core/config/temporal';
import type { ActivitySpan } from '../infra/temporal/activity-spans';
import { BUCKET, HostsCluster, type HostProcess } from '../test/helpers/hosts/cluster';
import { netnsUnavailable } from '../test/helpers/hosts/netns';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const HOSTS = arg('hosts', '1,2,4').split(',').map(Number);
const IMAGES = Number(arg('images', '16'));
const SIZE = Number(arg('size', '320'));
const CPU_SLOTS = arg('cpu-slots', '1');
const INFERENCE_THREADS = arg('inference-threads', '1');
const REPEATS = Number(arg('repeats', '1'));
const CORES = cpus().length;

/** CPU seconds (user + system) and bytes written to storage so far by the processes on each host. */
function usage(cluster: HostsCluster): Map<string, { cpuS: number; writeBytes: number }> {
  const out = new Map<string, { cpuS: number; writeBytes: number }>();
  for (const host of cluster.topology.hosts.keys()) {
    let cpuS = 0;
    let writeBytes = 0;
    for (const pid of cluster.topology.pids(host)) {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        cpuS += (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
        writeBytes += Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
      } catch {
        // exited meanwhile
      }
    }
    out.set(host, { cpuS, writeBytes });
  }
  return out;
}

/** The machine's busy and total CPU ticks so far (every process, everyone's). */
function machineTicks(): { busy: number; iowait: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, iowait, total: busy + idle + iowait };
}

const METRICS_PORT = 9464;
/** Seconds the worker on `host` has spent inside its compute slots so far (Σ tessel_stage_duration_seconds). */
async function slotSeconds(cluster: HostsCluster, host: string): Promise<number> {
  const url = `http://${cluster.topology.host(host).address}:${METRICS_PORT}/metrics`;
  const res = await cluster.agent.call<{ status: number; text: string }>('fetch', { url });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.text}`);
  let sum = 0;
  for (const m of res.text.matchAll(/^tessel_stage_duration_seconds_sum\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

interface Row {
  hosts: number; imagesPerMin: number; wallS: number; done: number;
  /** CPU seconds by host group; the share of the machine's cores that were busy (anyone's work), and ours. */
  cpuS: Record<string, number>; machineBusy: number; oursOfMachine: number;
  /** Share of the machine's CPU time spent idle waiting on the disk (anyone's I/O). */
  iowait: number;
  /** Fraction of the wall time the compute slots were busy: the GPU host's one, the CPU hosts' together. */
  slotsBusy: { gpu: number; cpu: number };
  waitS: { cpu: number; gpu: number }; activityS: Record<string, number>; writeMB: Record<string, number>;
}

async function runOnce(cluster: HostsCluster, ws: string, images: number): Promise<{ runId: string; result: RunSummary; startMs: number; closeMs: number }> {
  const started = await cluster.tessel('client', ['run', 'workspace', ws, '--detach', '--max-concurrent', String(images), '--benchmark-sink', 'none']);
  if (started.code !== 0) throw new Error(`run failed to start: ${started.stderr}`);
  const runId = started.stdout.trim().split('\n').pop()!;
  return { runId, ...(await cluster.agent.call<{ result: RunSummary; startMs: number; closeMs: number }>('waitRun', { workflowId: runId }, 1_800_000)) };
}

async function synth(cluster: HostsCluster, ws: string, images: number, seed: number): Promise<void> {
  const r = await cluster.tessel('client', ['synth', ws, '--images', String(images), '--size', String(SIZE), '--channels', '4', '--seed', String(seed)]);
  if (r.code !== 0) throw new Error(`synth failed: ${r.stderr}`);
}

async function measure(cluster: HostsCluster, hosts: number, repeat: number, queues: { cpu: string; gpu: string }): Promise<Row> {
  const ws = `gs://${BUCKET}/bench-${hosts}-${repeat}`;
  await synth(cluster, ws, IMAGES, 100 + repeat);
  await synth(cluster, `${ws}-warm`, 2 * hosts, 900 + repeat);
  const cpuHosts = Array.from({ length: hosts }, (_, i) => `cpu${i + 1}`);
  const workers: HostProcess[] = await Promise.all(cpuHosts.map((h) => cluster.worker(h, ['--queue', 'cpu', '--cpu-slots', CPU_SLOTS, '--metrics-port', String(METRICS_PORT)])));
  try {
    await runOnce(cluster, `${ws}-warm`, 2 * hosts);
    const slots = async () => ({ gpu: await slotSeconds(cluster, 'gpu'), cpu: (await Promise.all(cpuHosts.map((h) => slotSeconds(cluster, h)))).reduce((a, b) => a + b, 0) });
    const [before, ticks0, slots0] = [usage(cluster), machineTicks(), await slots()];
    const run = await runOnce(cluster, ws, IMAGES);
    const [after, ticks1, slots1] = [usage(cluster), machineTicks(), await slots()];
    const wallS = (run.closeMs - run.startMs) / 1000;
    const cpuS: Record<string, number> = {};
    const writeMB: Record<string, number> = {};
    for (const [host, a] of after) {
      const b = before.get(host) ?? { cpuS: 0, writeBytes: 0 };
      const group = host.startsWith('cpu') ? 'cpu workers' : host;
      cpuS[group] = (cpuS[group] ?? 0) + a.cpuS - b.cpuS;
      writeMB[group] = (writeMB[group] ?? 0) + (a.writeBytes - b.writeBytes) / 1e6;
    }
    const spans = await cluster.agent.call<ActivitySpan[]>('spans', { workflowIds: run.result.results.map((r) => `${run.runId}--${r.name}`) });
    const activityS: Record<string, number> = {};
    for (const type of [...new Set(spans.map((s) => s.type))]) activityS[type] = mean(spans.filter((s) => s.type === type).map((s) => (s.closed - s.started) / 1000));
    const wait = (q: string) => mean(spans.filter((s) => s.queue === q).map((s) => (s.started - s.scheduled) / 1000));
    const ours = Object.values(cpuS).reduce((a, b) => a + b, 0);
    const machineBusyS = (ticks1.busy - ticks0.busy) / 100;
    return {
      hosts, wallS, done: run.result.images.done, imagesPerMin: (run.result.images.done / wallS) * 60, cpuS,
      machineBusy: (ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total), oursOfMachine: ours / machineBusyS,
      iowait: (ticks1.iowait - ticks0.iowait) / (ticks1.total - ticks0.total),
      slotsBusy: { gpu: (slots1.gpu - slots0.gpu) / wallS, cpu: (slots1.cpu - slots0.cpu) / (wallS * hosts * Number(CPU_SLOTS)) },
      waitS: { cpu: wait(queues.cpu), gpu: wait(queues.gpu) }, activityS, writeMB,
    };
  } finally {
    await Promise.all(workers.map((w) => new Promise<void>((res) => {
      if (w.exitCode !== null || w.signalCode !== null) return res();
      w.once('exit', () => res());
      w.kill('SIGTERM');
    })));
  }
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) throw new Error(`bench/hosts.ts needs network namespaces: ${why}`);
  const dir = mkdtempSync(join(tmpdir(), 'tessel-bench-hosts-'));
  const maxHosts = Math.max(...HOSTS);
  process.stderr.write(`hosts: temporal, gcs, client, workflows, gpu, cpu1…cpu${maxHosts} (logs in ${dir})\n`);
  const cluster = await HostsCluster.start(['workflows', 'gpu', ...Array.from({ length: maxHosts }, (_, i) => `cpu${i + 1}`)], dir);
  try {
    await Promise.all([
      cluster.worker('workflows', ['--queue', 'workflows']),
      cluster.worker('gpu', ['--queue', 'gpu', '--inference-threads', INFERENCE_THREADS, '--metrics-port', String(METRICS_PORT)]),
    ]);
    // The hosts' processes run without TESSEL_QUEUE_* (HostsCluster), so on the default queues.
    const queues = taskQueuesFromEnv(cluster.env);
    const rows: Row[] = [];
    for (let r = 0; r < REPEATS; r++) {
      for (const hosts of HOSTS) {
        process.stderr.write(`run ${r + 1}/${REPEATS}: ${hosts} CPU host(s), ${IMAGES} images of ${SIZE}²…\n`);
        rows.push(await measure(cluster, hosts, r, queues));
      }
    }
    print(rows);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(rows: Row[]): void {
  const ref = mean(rows.filter((r) => r.hosts === HOSTS[0]).map((r) => r.imagesPerMin));
  const groups = ['temporal', 'gcs', 'workflows', 'gpu', 'cpu workers'];
  const types = [...new Set(rows.flatMap((r) => Object.keys(r.activityS)))];
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  console.log(`${IMAGES} images of ${SIZE}², --cpu-slots ${CPU_SLOTS} per CPU host, one GPU host (--inference-threads ${INFERENCE_THREADS}), ${CORES} cores; ratio against ${HOSTS[0]} CPU host(s)`);
  console.log(['CPU hosts', 'images/min', 'ratio', 'wall s', ...groups.map((g) => `CPU s ${g}`), 'CPU s/image', 'machine busy', 'ours of it', 'GPU slot busy', 'CPU slots busy',
    'wait cpu s', 'wait gpu s', ...types.map((t) => `${t} s`), 'disk MB (top)', 'iowait'].join(' | '));
  for (const r of rows) {
    const [topDisk, topMB] = Object.entries(r.writeMB).sort((a, b) => b[1] - a[1])[0] ?? ['-', 0];
    const disk = Object.values(r.writeMB).reduce((a, b) => a + b, 0);
    const perImage = Object.values(r.cpuS).reduce((a, b) => a + b, 0) / r.done;
    console.log([r.hosts, r.imagesPerMin.toFixed(1), (r.imagesPerMin / ref).toFixed(2), r.wallS.toFixed(1), ...groups.map((g) => (r.cpuS[g] ?? 0).toFixed(1)),
      perImage.toFixed(2), pct(r.machineBusy), pct(r.oursOfMachine), pct(r.slotsBusy.gpu), pct(r.slotsBusy.cpu), r.waitS.cpu.toFixed(2), r.waitS.gpu.toFixed(2),
      ...types.map((t) => (r.activityS[t] ?? 0).toFixed(2)), `${disk.toFixed(1)} (${topDisk} ${topMB.toFixed(1)})`, pct(r.iowait)].join(' | '));
  }
  console.log(JSON.stringify(rows));
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
