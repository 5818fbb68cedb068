/**
 * Many hosts, for real: network namespaces on this machine joined by veth pairs to a switch (a bridge in
 * a hub namespace; test/helpers/hosts/netns.ts), one host each for the Temporal dev server,
 * fake-gcs-server (the gs:// workspace), the client, the workflow worker, two GPU workers and two CPU
 * workers, every process started with `ip netns exec`. A clean run, then the same workspace again while
 * one GPU host is cut off the network (its switch port down: the worker lives on, unreachable) and every
 * process of one CPU host is killed with SIGKILL. The faulted run must finish with each image done once,
 * outputs byte-identical to the clean run's, and the lost activities retried on the other worker of their
 * queue after their heartbeat timeout, as the histories record it.
 *
 * Needs root and `ip netns` (CI runs as root and installs iproute2); skipped with a note otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunProgress, RunSummary } from '../../core/contracts';
import type { ActivitySpan } from '../../infra/temporal/activity-spans';
import type { ActivityRecord, PendingRecord } from '../helpers/hosts/agent';
import { BUCKET, HostsCluster, type HostProcess } from '../helpers/hosts/cluster';
import { fakeGcsServerBinary } from '../helpers/gcs-emulator';
import { netnsUnavailable } from '../helpers/hosts/netns';

jest.setTimeout(900_000);

const skip = netnsUnavailable() ?? fakeGcsServerBinary().reason;
if (skip) console.warn(`SKIPPING many-hosts test: ${skip}`);
const maybe = skip ? describe.skip : describe;

const IMAGES = 6;
const HEARTBEAT_TIMEOUT_S = 10;
const RUN_FLAGS = ['--heartbeat-timeout', String(HEARTBEAT_TIMEOUT_S), '--max-concurrent', String(IMAGES)];
const OUTPUTS = /^(NPZ_INTERMEDIATE|SEGMASK|REPORTS)\//;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

maybe('a run across separate network hosts', () => {
  let cluster: HostsCluster;
  let dir: string;
  let passed = false;
  const w: Record<string, HostProcess> = {};
  const ws = (name: string) => `gs://${BUCKET}/${name}`;

  /** Polls the pending activities of `workflowIds` until `pick` returns some (at most `timeoutMs`). */
  async function waitForPending(workflowIds: string[], pick: (p: PendingRecord[]) => PendingRecord[], what: string, timeoutMs = 300_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = pick(await cluster.agent.call<PendingRecord[]>('pending', { workflowIds }));
      if (found.length > 0) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessel-hosts-'));
    cluster = await HostsCluster.start(['workflows', 'gpu1', 'gpu2', 'cpu1', 'cpu2'], dir);
    const synth = (name: string) => cluster.tessel('client', ['synth', ws(name), '--images', String(IMAGES), '--size', '320', '--channels', '4', '--seed', '21']);
    const [synths, workers] = await Promise.all([
      Promise.all([synth('clean'), synth('fault')]),
      Promise.all([
        cluster.worker('workflows', ['--queue', 'workflows']),
        // One inference thread and one CPU slot each: five workers share two cores.
        ...['gpu1', 'gpu2'].map((h) => cluster.worker(h, ['--queue', 'gpu', '--inference-threads', '1'])),
        ...['cpu1', 'cpu2'].map((h) => cluster.worker(h, ['--queue', 'cpu', '--cpu-slots', '1'])),
      ]),
    ]);
    for (const s of synths) if (s.code !== 0) throw new Error(`tessel synth failed:\n${s.stderr}`);
    for (const p of workers) w[p.host] = p;
  });

  afterAll(async () => {
    await cluster?.stop();
    if (passed) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.warn(`many-hosts test failed: server, emulator and worker logs kept in ${dir}`);
  });

  it('finishes with every image once and identical outputs when a GPU host is cut off and a CPU host is killed', async () => {
    // Nothing on the hosts can leave them: no default route, only the hosts' subnet.
    for (const h of cluster.topology.hosts.keys()) expect(cluster.topology.routes(h)).toEqual([`${cluster.topology.subnet} dev eth0`]);

    const clean = await cluster.tessel('client', ['run', 'workspace', ws('clean'), '--json', ...RUN_FLAGS]);
    if (clean.code !== 0) throw new Error(`clean run failed (${clean.code}):\n${clean.stderr}`);
    const cleanSummary = JSON.parse(clean.stdout) as RunSummary;
    expect(cleanSummary.images).toMatchObject({ done: IMAGES, failed: 0 });
    const names = cleanSummary.results.map((r) => r.name).sort();

    const started = await cluster.tessel('client', ['run', 'workspace', ws('fault'), '--detach', ...RUN_FLAGS]);
    expect(started.code).toBe(0);
    const runId = started.stdout.trim().split('\n').pop()!;
    const children = names.map((n) => `${runId}--${n}`);

    // Strike while a host has work in hand that cannot finish first: an activity that started less than a
    // third of its clean-run duration ago (a task held ahead counts from when it was taken, earlier still).
    const spans = await cluster.agent.call<ActivitySpan[]>('spans', { workflowIds: names.map((n) => `${cleanSummary.runId}--${n}`) });
    const typical = (type: string) => median(spans.filter((x) => x.type === type).map((x) => x.closed - x.started));
    const fresh = (worker: HostProcess) => (p: PendingRecord[]) => {
      const held = p.filter((a) => a.state === 'started' && a.lastWorkerIdentity === worker.identity);
      return held.some((a) => Date.now() - a.startedMs < typical(a.type) / 3) ? held : [];
    };
    // gpu1 just took a prediction: pull its cable.
    const cutOff = await waitForPending(children, fresh(w.gpu1), 'fresh prediction on gpu1');
    cluster.topology.cut('gpu1');
    // Then cpu1 just took an activity: kill -9 of every process on that host.
    const killedWork = await waitForPending(children, fresh(w.cpu1), 'fresh activity on cpu1');
    const killed = await cluster.topology.killHost('cpu1');
    expect(killed).toContain(w.cpu1.pid);
    expect(cluster.topology.pids('cpu1')).toEqual([]);

    const st = await cluster.tessel('client', ['status', runId, '--wait', '--json']);
    const final = JSON.parse(st.stdout) as RunProgress;
    expect(final.state).toBe('completed');
    expect(final.images).toMatchObject({ done: IMAGES, failed: 0, total: IMAGES });
    const once = { done: IMAGES, failed: 0, running: 0 };
    // (No classifier given: the classify stage does not run.)
    expect(final.stages).toEqual({ convert: once, predict: once, postprocess: once, quantify: once, record: once, classify: { done: 0, failed: 0, running: 0 } });
    // Cut off, not dead: gpu1's worker still runs; only the network lost it.
    expect(w.gpu1.exitCode).toBeNull();
    expect(w.gpu1.signalCode).toBeNull();

    // The histories: each image ran each stage activity once to completion, the lost ones on the other
    // worker of their queue, as a later attempt whose previous one ended in a heartbeat timeout.
    const acts = await cluster.agent.call<ActivityRecord[]>('activities', { workflowIds: children });
    for (const id of children) expect(acts.filter((a) => a.workflowId === id).map((a) => [a.type, a.outcome])).toEqual([['convert', 'completed'], ['predict', 'completed'], ['fused', 'completed']]);
    /**
     * What became of the activities `from` was running at the fault: each either finished there just
     * before it (its completion already on the wire) or was retried on `to` once its heartbeat timed out.
     * Returns the retried ones.
     */
    const fate = (lost: PendingRecord[], from: HostProcess, to: HostProcess) => lost.filter((l) => {
      const a = acts.find((x) => x.workflowId === l.workflowId && x.activityId === l.activityId)!;
      if (a.identity === from.identity && a.attempt === l.attempt) return false;
      expect({ type: a.type, identity: a.identity, previous: a.lastFailure?.timeoutType }).toEqual({ type: l.type, identity: to.identity, previous: 'HEARTBEAT' });
      expect(a.attempt).toBeGreaterThan(l.attempt);
      return true;
    });
    const retriedPredictions = fate(cutOff, w.gpu1, w.gpu2);
    const retriedCpuWork = fate(killedWork, w.cpu1, w.cpu2);
    const show = (l: PendingRecord[]) => l.map((p) => {
      const a = acts.find((x) => x.workflowId === p.workflowId && x.activityId === p.activityId)!;
      return `${p.type} of ${p.workflowId.split('--')[1]} attempt ${p.attempt} → ${a.attempt}`;
    }).join(', ');
    process.stdout.write(`many-hosts: cut gpu1 during ${show(cutOff)}; killed cpu1 during ${show(killedWork)}\n`);
    expect(retriedPredictions.map((a) => a.type)).toContain('predict');
    expect(retriedCpuWork.length).toBeGreaterThan(0);

    // Outputs byte for byte against the clean run's (the NPZ sidecars' source URI normalised), nothing temporary left.
    const [cleanObjects, faultObjects] = await Promise.all([
      cluster.agent.call<Record<string, string>>('digests', { uri: ws('clean') }),
      cluster.agent.call<Record<string, string>>('digests', { uri: ws('fault') }),
    ]);
    const outputs = (o: Record<string, string>) => Object.keys(o).filter((k) => OUTPUTS.test(k)).sort().map((k) => `${k} ${o[k]}`);
    // Per image: the NPZ and its sidecar, two masks, the table and the GeoJSON.
    expect(outputs(cleanObjects)).toHaveLength(IMAGES * 6);
    expect(outputs(faultObjects)).toEqual(outputs(cleanObjects));
    expect(Object.keys(faultObjects).filter((k) => k.includes('.tessel-tmp-'))).toEqual([]);
    expect(Object.keys(faultObjects).filter((k) => k.startsWith('jobs/manifests/')).sort()).toEqual(names.map((n) => `jobs/manifests/${n}.json`));

    // One benchmark row per image (a retried record replaces its row), and the rows saw the retries.
    const exported = await cluster.tessel('client', ['bench', 'export', '--duckdb', cluster.benchmarksFile, '--run-id', runId, '--format', 'ndjson']);
    const rows = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows).toHaveLength(IMAGES);
    expect(Math.max(...rows.map((r) => r.prediction_attempts ?? 1))).toBeGreaterThan(1);
    passed = true;
  });
});
