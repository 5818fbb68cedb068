/**
 * infra/k8s rendered offline with kustomize (base and the GKE overlay, the mTLS component on top) and
 * every object validated against the schemas that kubernetes-models, @kubernetes-models/keda and
 * @kubernetes-models/prometheus-operator bundle; then the rules the issue sets: a Deployment per queue,
 * the GPU one on the GPU pool, grace > --shutdown-grace > heartbeat interval, PodDisruptionBudgets,
 * Workload Identity and no key files, the API key from a Secret, scrape config, one KEDA temporal trigger
 * per queue with the GPU scaling to zero. Each worker's args are parsed by the `tessel worker` command
 * itself, so a value out of range in a manifest fails here as it would in the pod.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { resolveWorkerOptions, workerCommand, type WorkerFlags } from '../../../cli/commands/worker';
import { ROOT } from '../../helpers/cluster';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: unknown; [k: string]: unknown };

/** Schema validation by the bundled models, in a Node process of its own (see validate-k8s.mjs). */
function validate(objs: Obj[]): { kind: string; name: string; error?: string }[] {
  return JSON.parse(execFileSync(process.execPath, [join(ROOT, 'test', 'helpers', 'validate-k8s.mjs')], { input: JSON.stringify(objs), encoding: 'utf8' }));
}

const kustomize = [process.env.KUSTOMIZE, join(ROOT, '.tools', 'bin', 'kustomize')].find((p) => p && existsSync(p));
if (!kustomize && !process.env.CI) console.warn("SKIPPING manifest tests: no kustomize (GOBIN=$PWD/.tools/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1, as .ci/run does)");
const maybe = kustomize || process.env.CI ? describe : describe.skip;

function render(dir: string): Obj[] {
  const out = execFileSync(kustomize!, ['build', dir], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJS() as Obj);
}

type Container = { args: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]; resources: { requests: Record<string, string>; limits: Record<string, string> }; volumeMounts?: unknown[] };
type PodSpec = { serviceAccountName: string; terminationGracePeriodSeconds: number; nodeSelector?: Record<string, string>; tolerations?: { key: string }[]; containers: Container[]; volumes?: { secret?: { secretName: string } }[]; securityContext: { runAsNonRoot: boolean } };
const podSpec = (d: Obj) => (d.spec as { template: { spec: PodSpec } }).template.spec;
const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const named = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;

/** A worker container's args through the `tessel worker` command's own parser and range checks. */
async function parseWorkerArgs(args: string[]) {
  let flags: WorkerFlags | undefined;
  const cmd = workerCommand().exitOverride().configureOutput({ writeErr: () => undefined }).action((o: WorkerFlags) => void (flags = o));
  await cmd.parseAsync(args, { from: 'user' });
  return resolveWorkerOptions(flags!);
}

maybe.each([['base', 'infra/k8s/base'], ['gke', 'infra/k8s/overlays/gke']])('infra/k8s %s, rendered', (which, dir) => {
  let objs: Obj[];
  beforeAll(() => {
    objs = render(join(ROOT, dir));
  });

  it('validates every object against its bundled schema', () => {
    expect(objs.length).toBeGreaterThanOrEqual(12);
    expect(validate(objs)).toEqual(objs.map((o) => ({ kind: o.kind, name: o.metadata.name })));
    for (const o of objs) if (o.kind !== 'Namespace') expect(`${o.kind}/${o.metadata.name} ${o.metadata.namespace}`).toBe(`${o.kind}/${o.metadata.name} tessel`);
  });

  it('runs one Deployment per queue with args the worker accepts', async () => {
    const deployments = byKind(objs, 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['tessel-cpu', 'tessel-gpu', 'tessel-workflows']);
    for (const d of deployments) {
      const [c] = podSpec(d).containers;
      const opts = await parseWorkerArgs(c.args);
      expect(opts.queues).toEqual([d.metadata.name.replace('tessel-', '')]);
      expect(opts.metricsPort).toBe(9464);
      // SIGKILL comes after the grace: it must outlast the worker's own drain, which outlasts a heartbeat (2 s).
      expect(opts.shutdownGraceS).toBeGreaterThan(2);
      expect(podSpec(d).terminationGracePeriodSeconds).toBeGreaterThanOrEqual(opts.shutdownGraceS! + 20);
      expect(podSpec(d).securityContext.runAsNonRoot).toBe(true);
      expect(c.resources.requests.memory).toBeTruthy();
      expect(c.resources.limits.memory).toBeTruthy();
      // Credentials: the API key from a Secret, no Google key file anywhere (Workload Identity).
      expect(c.env?.find((e) => e.name === 'TEMPORAL_API_KEY')?.valueFrom?.secretKeyRef).toMatchObject({ name: 'tessel-temporal', key: 'api-key' });
      expect(c.env?.some((e) => e.name === 'GOOGLE_APPLICATION_CREDENTIALS')).toBe(false);
      expect(podSpec(d).volumes ?? []).toEqual([]);
      expect(podSpec(d).serviceAccountName).toBe('tessel-worker');
      expect((d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['prometheus.io/port']).toBe('9464');
    }
    const gpu = podSpec(named(objs, 'Deployment', 'tessel-gpu'));
    expect(gpu.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    expect(gpu.tolerations?.map((t) => t.key)).toContain('nvidia.com/gpu');
    const gpuOpts = await parseWorkerArgs(gpu.containers[0].args);
    expect(gpuOpts.deps?.device).toBe('cuda');
    expect(gpuOpts.deps?.gpuMemoryGb).toBeGreaterThan(0);
    if (which === 'gke') {
      expect(gpu.nodeSelector?.['cloud.google.com/gke-accelerator']).toBe('nvidia-l4');
      expect(gpuOpts.gpuSlots).toBe(14);
      expect(named(objs, 'ServiceAccount', 'tessel-worker').metadata.annotations?.['iam.gke.io/gcp-service-account']).toMatch(/@.*\.iam\.gserviceaccount\.com$/);
    }
  });

  it('has a disruption budget per Deployment and a scrape config', () => {
    const pdbs = byKind(objs, 'PodDisruptionBudget') as unknown as { spec: { selector: { matchLabels: Record<string, string> } } }[];
    expect(pdbs.map((p) => p.spec.selector.matchLabels['app.kubernetes.io/name']).sort()).toEqual(['tessel-cpu', 'tessel-gpu', 'tessel-workflows']);
    const pm = byKind(objs, 'PodMonitor')[0] as unknown as { spec: { podMetricsEndpoints: { port: string; path: string }[] } };
    expect(pm.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
  });

  it('scales each queue on its backlog with KEDA\'s temporal scaler, the GPU to zero', () => {
    const config = (named(objs, 'ConfigMap', 'tessel-config') as unknown as { data: Record<string, string> }).data;
    type Scaled = { metadata: { name: string }; spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[] } };
    const scaled = byKind(objs, 'ScaledObject') as unknown as Scaled[];
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(['tessel-cpu', 'tessel-gpu', 'tessel-workflows']);
    for (const s of scaled) {
      const queue = s.spec.scaleTargetRef.name.replace('tessel-', '');
      expect(s.spec.triggers).toHaveLength(1);
      const t = s.spec.triggers[0];
      expect(t.type).toBe('temporal');
      expect(t.metadata).toMatchObject({
        endpoint: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config[`TESSEL_QUEUE_${queue.toUpperCase()}`],
        queueTypes: queue === 'workflows' ? 'workflow' : 'activity', activationTargetQueueSize: '0',
      });
      expect(Number(t.metadata.targetQueueSize)).toBeGreaterThan(0);
      expect(s.spec.maxReplicaCount).toBeGreaterThan(s.spec.minReplicaCount);
      if (which === 'gke') expect(t.authenticationRef?.name).toBe(named(objs, 'TriggerAuthentication', 'tessel-temporal').metadata.name);
    }
    expect(scaled.find((s) => s.metadata.name === 'tessel-gpu')!.spec.minReplicaCount).toBe(0);
    expect(scaled.find((s) => s.metadata.name === 'tessel-workflows')!.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
  });
});

maybe('infra/k8s components', () => {
  it('mtls mounts the client certificate from a Secret and points the worker at it', () => {
    const dir = mkdtempSync(join(ROOT, '.tessel', 'k8s-mtls-'));
    cpSync(join(ROOT, 'infra', 'k8s'), join(dir, 'k8s'), { recursive: true });
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [k8s/overlays/gke]\ncomponents: [k8s/components/mtls]\n');
    const objs = render(dir);
    expect(validate(objs).filter((r) => r.error)).toEqual([]);
    for (const d of byKind(objs, 'Deployment')) {
      const spec = podSpec(d);
      expect(spec.volumes?.map((v) => v.secret?.secretName)).toEqual(['tessel-temporal-tls']);
      const env = Object.fromEntries((spec.containers[0].env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ TEMPORAL_TLS_CERT: '/etc/tessel/temporal-tls/tls.crt', TEMPORAL_TLS_KEY: '/etc/tessel/temporal-tls/tls.key' });
    }
  });

  it('a value out of range in a manifest is refused by the worker\'s parser, naming the flag', async () => {
    const gpu = named(render(join(ROOT, 'infra/k8s/overlays/gke')), 'Deployment', 'tessel-gpu');
    const args = podSpec(gpu).containers[0].args.map((a, i, all) => (all[i - 1] === '--gpu-memory-gb' ? '0' : a));
    await expect(parseWorkerArgs(args)).rejects.toThrow("option '--gpu-memory-gb <gb>' argument '0' is invalid. must be a number of GB above 0, at most 1024");
  });
});

