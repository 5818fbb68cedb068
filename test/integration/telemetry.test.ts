/**
 * Metrics and traces of a real run: `tessel worker` processes (one per queue) with `--metrics-port 0`
 * and OTLP export, `tessel run --detach` with OTLP export too, a real dev server. /metrics is scraped
 * while the run goes; the spans the processes exported over OTLP/HTTP are read from an in-memory
 * receiver: one trace per image (child workflow and its activities) linked to the run's trace, which
 * starts at the client.
 */
import { copyFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { DevServer } from '../../infra/temporal/dev-server';
import type { RunProgress } from '../../core/contracts';
import { startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';

jest.setTimeout(600_000);

let server: DevServer;
let env: NodeJS.ProcessEnv;
let ws: string;
let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
const workers: Awaited<ReturnType<typeof startWorker>>[] = [];
const metricsUrls: Record<string, string> = {};
const scrapes: Record<string, string[]> = { cpu: [], gpu: [] };
let names: string[];
let final: RunProgress;

/** `name{labels} value` lines of an exposition, as a map from `name{labels}` to value. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));

beforeAll(async () => {
  let dir: string;
  ({ server, env, dir } = await startTestServer());
  otlp = await startOtlpReceiver();
  // Export each batch at once, so spans arrive while the test waits rather than after 5 s.
  env = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
  ws = join(dir, 'ws');
  expect((await tessel(['synth', ws, '--images', '3', '--size', '320', '--channels', '4', '--seed', '3'])).code).toBe(0);
  names = readdirSync(join(ws, 'OMETIFF')).map((f) => f.split('.')[0]).sort();
  copyFileSync(join(ws, 'OMETIFF', `${names[0]}.ome.tiff`), join(ws, 'OMETIFF', 'broken.ome.tiff'));
  truncateSync(join(ws, 'OMETIFF', 'broken.ome.tiff'), 3000);
  for (const queue of ['workflows', 'cpu', 'gpu']) {
    const w = await startWorker(['--queue', queue, '--metrics-port', '0', '--metrics-host', '127.0.0.1'], env);
    workers.push(w);
    metricsUrls[queue] = /metrics (http:\/\/\S+)/.exec(w.output())![1];
  }
  const started = await tessel(['run', 'workspace', ws, '--detach', '--max-concurrent', '2', '--benchmark-sink', 'none'], env);
  expect(started.code).toBe(0);
  const runId = started.stdout.trim().split('\n').pop()!;
  // Scrape the activity workers every 100 ms until the run ends (bounded by the status wait below).
  let running = true;
  const scraping = (async () => {
    while (running) {
      for (const q of ['cpu', 'gpu']) scrapes[q].push(await (await fetch(metricsUrls[q])).text());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const st = await tessel(['status', runId, '--wait', '--json'], env);
  running = false;
  await scraping;
  final = JSON.parse(st.stdout) as RunProgress;
  // A last scrape after the end, then stop the workers: SIGTERM flushes their remaining spans.
  for (const q of ['cpu', 'gpu']) scrapes[q].push(await (await fetch(metricsUrls[q])).text());
  for (const w of workers) await stopChild(w);
});

afterAll(async () => {
  for (const w of workers) await stopChild(w, 'SIGKILL');
  await server?.stop();
  await otlp?.stop();
});

it('completes the run it measures', () => {
  expect(final.state).toBe('completed');
  expect(final.images).toMatchObject({ done: 3, failed: 1, total: 4 });
});

it('serves Tessel\'s metrics and the Temporal SDK\'s on one /metrics, live during the run', () => {
  const last = (q: string) => samples(scrapes[q][scrapes[q].length - 1]);
  const cpu = last('cpu');
  const gpu = last('gpu');
  expect(gpu.get('tessel_stage_items_total{stage="predict",unit="image",outcome="completed"}')).toBe(3);
  expect(cpu.get('tessel_stage_items_total{stage="convert",unit="image",outcome="completed"}')).toBe(3);
  expect(cpu.get('tessel_stage_items_total{stage="convert",unit="image",outcome="failed"}')).toBe(1);
  // 320² images take the fused postprocess-to-record activity, counted under postprocess.
  expect(cpu.get('tessel_stage_items_total{stage="postprocess",unit="image",outcome="completed"}')).toBe(3);
  expect(gpu.get('tessel_stage_duration_seconds_count{stage="predict",outcome="completed"}')).toBe(3);
  expect(cpu.get('tessel_stage_phase_seconds_count{stage="quantify",phase="compute"}')).toBe(3);
  expect(gpu.get('tessel_compute_slots{queue="gpu"}')).toBe(1);
  // Every output file was written by these workers through the storage layer: at least that many bytes.
  const outputs = walk(ws).filter((f) => /\/(NPZ_INTERMEDIATE|SEGMASK|REPORTS)\//.test(f));
  const outputBytes = outputs.reduce((n, f) => n + statSync(f).size, 0);
  expect(outputs.length).toBeGreaterThanOrEqual(3 * 5);
  expect((cpu.get('tessel_storage_written_bytes_total{scheme="file"}') ?? 0)).toBeGreaterThanOrEqual(outputBytes);
  expect(gpu.get('tessel_storage_read_bytes_total{scheme="file"}')).toBeGreaterThan(0);
  // The SDK's own series, from the same scrape.
  const sdkPredictions = [...gpu].filter(([k]) => k.startsWith('temporal_activity_execution_latency_count{') && k.includes('activity_type="predict"'));
  expect(sdkPredictions.map(([, v]) => v)).toEqual([3]);
  expect([...cpu.keys()].some((k) => k.startsWith('temporal_num_pollers{'))).toBe(true);
  // Scraped during the run: some scrape saw a prediction holding the GPU slot, and one earlier saw none done.
  const inUse = scrapes.gpu.map((t) => samples(t).get('tessel_compute_slots_in_use{queue="gpu"}') ?? 0);
  expect(Math.max(...inUse)).toBe(1);
  expect(samples(scrapes.gpu[0]).get('tessel_stage_items_total{stage="predict",unit="image",outcome="completed"}') ?? 0).toBeLessThan(3);
});

it('exports one trace per image over OTLP, linked to the run\'s trace that starts at the client', async () => {
  const spans: ReceivedSpan[] = otlp.spans;
  const start = spans.find((s) => s.name === 'StartWorkflow:segmentAndMeasure');
  expect(start).toMatchObject({ service: 'tessel-cli', parentSpanId: undefined });
  const runTrace = start!.traceId;
  const runSpan = spans.find((s) => s.name === 'RunWorkflow:segmentAndMeasure' && s.traceId === runTrace);
  expect(runSpan?.service).toBe('tessel-worker-workflows');
  const roots = spans.filter((s) => s.name.startsWith('ProcessImage:'));
  expect(roots.map((r) => r.attributes['tessel.image']).sort()).toEqual(['broken', ...names].sort());
  expect(new Set(roots.map((r) => r.traceId)).size).toBe(4);
  for (const root of roots) {
    expect(root.parentSpanId).toBeUndefined();
    expect(root.traceId).not.toBe(runTrace);
    expect(root.links.map((l) => l.traceId)).toEqual([runTrace]);
    const inTrace = spans.filter((s) => s.traceId === root.traceId);
    const kinds = new Set(inTrace.map((s) => `${s.service} ${s.name}`));
    expect(kinds).toContain('tessel-worker-workflows RunWorkflow:processImage');
    expect(kinds).toContain('tessel-worker-cpu RunActivity:convert');
    if (root.attributes['tessel.image'] === 'broken') continue;
    expect(kinds).toContain('tessel-worker-gpu RunActivity:predict');
    expect(kinds).toContain('tessel-worker-cpu RunActivity:fused');
    // Every span of the image trace hangs from the root through its parents.
    const byId = new Map(inTrace.map((s) => [s.spanId, s]));
    for (const s of inTrace) {
      let p: ReceivedSpan | undefined = s;
      for (let hops = 0; p && p !== root && hops < 20; hops++) p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined;
      expect(`${s.name} → ${p?.name}`).toBe(`${s.name} → ${root.name}`);
    }
  }
});
